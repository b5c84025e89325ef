"""Corpora, documents and gold labels: the import pipeline, splits, search, browse and export; owns those tables and
writes them for other apps through labels.py. May import projects, taxonomies (services, selectors, models),
jobs, htc_app, and classifiers and review selectors for the document page."""
