from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import mi_views, views

# Path converters (not regexes) let the schema type the `number` and `key` path parameters.
# No ".json" suffix routes: JSON is the only format, and one URL per resource keeps it simple.
router = DefaultRouter(trailing_slash=True, use_regex_path=False)
router.include_format_suffixes = False
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("cis", views.ConfigurationItemViewSet, basename="ci")
router.register("problems", views.ProblemViewSet, basename="problem")
router.register("changes", views.ChangeViewSet, basename="change")
router.register("system-properties", views.SystemPropertyViewSet, basename="systemproperty")
router.register("major-incidents", mi_views.MajorIncidentViewSet, basename="majorincident")
router.register(
    "major-incident-candidates",
    mi_views.MajorIncidentCandidateViewSet,
    basename="majorincidentcandidate",
)

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include(router.urls)),
    # Anything else under /api/ answers in JSON, like the rest of the API.
    re_path(r"^.*$", views.not_found, name="api-not-found"),
]
