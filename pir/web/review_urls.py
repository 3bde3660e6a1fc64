"""The review's pages: the editor by section and the printable view, and the
editor's forms (each POST calls one service and goes back to the editor)."""

from django.urls import URLPattern, URLResolver, path

from . import reviews

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:number>/pir/", reviews.review_page, name="review"),
    path("<str:number>/pir/print/", reviews.print_page, name="print"),
    path("<str:number>/pir/sections/<slug:group>/", reviews.save_section, name="save-section"),
    path("<str:number>/pir/authors/", reviews.save_authors, name="authors"),
    path("<str:number>/pir/submit/", reviews.submit, name="submit"),
    path("<str:number>/pir/publish/", reviews.publish, name="publish"),
    path("<str:number>/pir/comments/", reviews.comment, name="comment"),
    path("<str:number>/pir/action-items/", reviews.add_action, name="add-action"),
    path("<str:number>/pir/action-items/<int:item_id>/", reviews.edit_action, name="edit-action"),
]
