from django.urls import path

from . import views

app_name = "incidents"

# Incidents are addressed by number (INC0000042); a malformed number is a 404 from the view.
NUMBER = "<str:number>"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("cis/search/", views.ci_search, name="ci_search"),
    path("cis/<int:ci_id>/impact/", views.ci_impact, name="ci_impact"),
    path(f"{NUMBER}/", views.incident_detail, name="detail"),
    path(f"{NUMBER}/edit/", views.incident_edit, name="edit"),
    path(f"{NUMBER}/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path(f"{NUMBER}/resolve/", views.incident_resolve, name="resolve"),
    path(f"{NUMBER}/link/", views.incident_link, name="link"),
]
