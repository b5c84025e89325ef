"""The review queue, corrections with provenance, review tasks ("which child?"), agreement. Owns Correction and
ReviewTask. May import: classifiers, corpora and taxonomies selectors and services (gold labels through corpora)."""
