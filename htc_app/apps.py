from django.apps import AppConfig


class HtcAppConfig(AppConfig):
    name = "htc_app"
    verbose_name = "htc"
