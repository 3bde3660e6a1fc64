"""The review document's API: pir/, submit, publish, export.md, comments,
action items, draft."""

from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("pir/", views.ReviewView.as_view(), name="pir-review"),
    path("pir/submit/", views.SubmitView.as_view(), name="pir-submit"),
    path("pir/publish/", views.PublishView.as_view(), name="pir-publish"),
    path("pir/export.md", views.ExportView.as_view(), name="pir-export"),
    path("pir/comments/", views.CommentsView.as_view(), name="pir-comments"),
    path("pir/action-items/", views.ActionItemsView.as_view(), name="pir-action-items"),
    path(
        "pir/action-items/<int:item_id>/",
        views.ActionItemView.as_view(),
        name="pir-action-item",
    ),
    path("pir/draft/", views.DraftView.as_view(), name="pir-draft"),
]
