from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "comms"
    verbose_name = "Stakeholder communication"

    def ready(self) -> None:
        # Tasks are registered in every process (services queue them by name); the receivers
        # hang comms off the incidents and war-room signals.
        from . import receivers, tasks  # noqa: F401
        from .web import panels

        panels.register()
