"""Classifier configurations, runs, predictions, pseudo-labels, evaluations. Owns those tables. May import: its engine
(classifiers/engine, which imports nothing of ours), models and selectors of taxonomies and corpora for reading,
endpoints.services, jobs.services; other apps' tables are written only through their services."""
