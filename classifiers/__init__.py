"""Classifier configurations, runs, predictions, pseudo-labels, evaluations; owns those tables. Its engine
(classifiers/engine) imports nothing of ours. May import taxonomies and corpora models and selectors for reading,
endpoints.services, jobs, htc_app; other apps' tables are written only through their services (corpora.labels)."""
