"""The public status page, mounted at /status/ (no login): the page, our summary.json, and the
Statuspage-compatible API v2 under api/v2/; the subscription pages."""

from django.urls import URLPattern, URLResolver, path

from . import status, subscribe

app_name = "status"

V2 = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("", status.page, name="page"),
    path("summary.json", status.summary, name="summary"),
    path("subscribe/", subscribe.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", subscribe.confirm, name="subscribe-confirm"),
    path("unsubscribe/<str:token>/", subscribe.unsubscribe, name="unsubscribe"),
    *(path(f"api/v2/{name}.json", status.view_of(f"v2/{name}"), name=f"v2-{name}") for name in V2),
    path("api/v2/<path:rest>", status.not_found, name="v2-not-found"),
]
