from django.apps import AppConfig


class TaxonomiesConfig(AppConfig):
    name = "taxonomies"
