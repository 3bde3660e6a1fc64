"""Action items into work: problem task, change, Jira issue."""

from django.urls import URLPattern, URLResolver, path

from . import actions

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "pir/action-items/<int:item_id>/convert/",
        actions.ConvertActionItemView.as_view(),
        name="pir-action-item-convert",
    ),
]
