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
    path(f"{NUMBER}/declare/", views.incident_declare, name="declare"),
]

# Mounted at /major-incidents/ (namespace "majors") by config/urls.py; MIs by number (MI0000042).
major_incident_urlpatterns = [
    path("", views.mi_list, name="list"),
    path("candidates/", views.candidate_list, name="candidates"),
    path("candidates/<int:candidate_id>/accept/", views.candidate_accept, name="candidate_accept"),
    path("candidates/<int:candidate_id>/reject/", views.candidate_reject, name="candidate_reject"),
    path(f"{NUMBER}/", views.mi_detail, name="detail"),
    path(f"{NUMBER}/transition/", views.mi_transition, name="transition"),
    path(f"{NUMBER}/roles/", views.mi_assign_role, name="assign_role"),
    path(f"{NUMBER}/roles/<int:assignment_id>/remove/", views.mi_remove_role, name="remove_role"),
    path(f"{NUMBER}/milestones/", views.mi_milestones, name="milestones"),
]
