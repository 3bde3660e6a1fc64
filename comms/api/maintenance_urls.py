"""``/api/scheduled-maintenances/`` (mounted before the incidents API's catch-all)."""

from django.urls import URLPattern, URLResolver, path

from . import maintenance

urlpatterns: list[URLPattern | URLResolver] = [
    path("", maintenance.MaintenancesView.as_view(), name="scheduled-maintenances"),
    path("<int:pk>/", maintenance.MaintenanceView.as_view(), name="scheduled-maintenance"),
]
