"""Projects and memberships (roles): every view is scoped through projects.selectors.project_for_user. Owns Project and
Membership. May import taxonomies services (a new project gets its taxonomy) and corpora models for counts."""
