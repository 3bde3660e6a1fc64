"""Monitoring webhooks in, mounted at /api/inbound/ (DESIGN "Inbound channels")."""

from django.urls import URLPattern, URLResolver, path

from ..models import InboundKind
from .inbound import endpoint

app_name = "inbound"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{kind}/", endpoint(kind), name=kind) for kind in InboundKind.values
]
