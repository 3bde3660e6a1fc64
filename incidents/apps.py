from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and CMDB"

    def ready(self) -> None:
        # The services queue tasks by name (services/enqueue.py); Celery's autodiscovery runs only
        # in a worker, so a web or manage.py process must register the tasks itself.
        from . import tasks  # noqa: F401
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
