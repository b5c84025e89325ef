"""The versioned label tree: Taxonomy, Node, TaxonomyChange; create / rename / move / merge / delete / split, formats,
enrichment terms; owns those tables. May import corpora models for reading and corpora.labels for moving gold
labels, review.tasks for the task a split opens, classifiers.coldstart to start enrichment jobs."""
