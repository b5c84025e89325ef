"""The classification engine: pure Python + torch. Imports neither Django nor any htc app."""
