from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "War room"

    def ready(self) -> None:
        # Tasks are registered in every process (the services queue them by name), and the
        # receivers hang the war room off the incidents app's domain signals.
        from . import receivers, tasks  # noqa: F401
