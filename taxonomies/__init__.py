"""The versioned label tree: Taxonomy, Node, TaxonomyChange; create / rename / move / merge / delete / split, formats,
enrichment terms. Owns those tables. May import: corpora models for reading gold labels, review.tasks for the
review task a split opens."""
