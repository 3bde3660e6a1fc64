from django.apps import AppConfig


class PirConfig(AppConfig):
    name = "pir"
    verbose_name = "Post-incident review"

    def ready(self) -> None:
        # Tasks are registered in every process (beat names them); the receivers create and
        # schedule the review when an MI is resolved.
        from . import receivers, tasks  # noqa: F401
        from .web import panels

        panels.register()
