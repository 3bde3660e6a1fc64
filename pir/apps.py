from django.apps import AppConfig


class PirConfig(AppConfig):
    name = "pir"
    verbose_name = "Post-incident review"
