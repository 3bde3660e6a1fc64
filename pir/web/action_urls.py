"""Converting an action item from the editor page."""

from django.urls import URLPattern, URLResolver, path

from . import actions

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "<str:number>/pir/action-items/<int:item_id>/convert/",
        actions.convert_action,
        name="convert-action",
    ),
]
