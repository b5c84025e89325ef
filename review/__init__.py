"""The review queue, corrections with provenance, review tasks ("which child?"), agreement; owns Correction and
ReviewTask. May import classifiers, corpora and taxonomies models and selectors for reading; gold labels are
written through corpora.labels, runs through classifiers.services."""
