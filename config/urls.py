from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from incidents.web import incidents as incident_views
from incidents.web.urls import major_incident_urlpatterns
from warroom.chat import slack

urlpatterns = [
    path("", incident_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The war room's resources of an MI come before the incidents API's catch-all JSON 404.
    path("api/major-incidents/<str:number>/", include("warroom.api.urls")),
    path("api/major-incidents/<str:number>/", include("comms.api.urls")),
    path("api/major-incidents/<str:number>/", include("pir.api.urls")),
    path("api/metrics/", include("pir.api.metrics_urls")),
    path("api/inbound/", include("comms.api.inbound_urls")),
    path("api/scheduled-maintenances/", include("comms.api.maintenance_urls")),
    path("api/", include("incidents.api.urls")),
    path("incidents/", include("incidents.web.urls")),
    path("major-incidents/", include((major_incident_urlpatterns, "majors"))),
    path("war-rooms/", include("warroom.web.urls")),
    path("war-rooms/", include("comms.web.urls")),
    path("war-rooms/", include("pir.web.urls")),
    path("kpis/", include("pir.web.kpi_urls")),
    path("status/", include("comms.web.status_urls")),
    path("chat/slack/commands/", slack.slash_command, name="slack-commands"),
]
