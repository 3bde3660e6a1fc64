from django.urls import path

from . import incidents, majors

app_name = "incidents"

# Incidents are addressed by number (INC0000042); a malformed number is a 404 from the view.
NUMBER = "<str:number>"

urlpatterns = [
    path("", incidents.incident_list, name="list"),
    path("new/", incidents.incident_create, name="create"),
    path("cis/search/", incidents.ci_search, name="ci_search"),
    path("cis/<int:ci_id>/impact/", incidents.ci_impact, name="ci_impact"),
    path(f"{NUMBER}/", incidents.incident_detail, name="detail"),
    path(f"{NUMBER}/edit/", incidents.incident_edit, name="edit"),
    path(f"{NUMBER}/acknowledge/", incidents.incident_acknowledge, name="acknowledge"),
    path(f"{NUMBER}/resolve/", incidents.incident_resolve, name="resolve"),
    path(f"{NUMBER}/link/", incidents.incident_link, name="link"),
    path(f"{NUMBER}/declare/", incidents.incident_declare, name="declare"),
    path(f"{NUMBER}/flag-major/", incidents.incident_flag_major, name="flag_major"),
]

# Mounted at /major-incidents/ (namespace "majors") by config/urls.py; MIs by number (MI0000042).
major_incident_urlpatterns = [
    path("", majors.mi_list, name="list"),
    path("candidates/", majors.candidate_list, name="candidates"),
    path("candidates/<int:candidate_id>/accept/", majors.candidate_accept, name="candidate_accept"),
    path("candidates/<int:candidate_id>/reject/", majors.candidate_reject, name="candidate_reject"),
    path(f"{NUMBER}/", majors.mi_detail, name="detail"),
    path(f"{NUMBER}/transition/", majors.mi_transition, name="transition"),
    path(f"{NUMBER}/edit/", majors.mi_edit, name="edit"),
    path(f"{NUMBER}/roles/", majors.mi_assign_role, name="assign_role"),
    path(f"{NUMBER}/roles/<int:assignment_id>/remove/", majors.mi_remove_role, name="remove_role"),
    path(f"{NUMBER}/milestones/", majors.mi_milestones, name="milestones"),
]
