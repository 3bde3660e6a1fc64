"""comms' API under /api/major-incidents/<number>/ (updates, drafts, canned responses)."""

from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("updates/", views.UpdatesView.as_view(), name="comms-updates"),
    path("updates/<int:update_id>/", views.UpdateView.as_view(), name="comms-update"),
    path("updates/<int:update_id>/submit/", views.SubmitView.as_view(), name="comms-update-submit"),
    path(
        "updates/<int:update_id>/approve/", views.ApproveView.as_view(), name="comms-update-approve"
    ),
    path("updates/<int:update_id>/send/", views.SendView.as_view(), name="comms-update-send"),
    path(
        "updates/<int:update_id>/discard/", views.DiscardView.as_view(), name="comms-update-discard"
    ),
    path("drafts/", views.DraftsView.as_view(), name="comms-drafts"),
    path(
        "security-investigation/complete/",
        views.InvestigationView.as_view(),
        name="comms-security-investigation-complete",
    ),
    path("canned-responses/", views.CannedResponsesView.as_view(), name="comms-canned-responses"),
]
