"""Corpora, documents and gold labels: the import pipeline, splits, browsing and export. Owns those tables.
May import: projects, taxonomies (services and selectors), jobs.services, htc_app helpers."""
