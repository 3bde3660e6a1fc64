"""Every war-room endpoint answers OPTIONS (DRF's metadata): for each persona, never a 500.

The fuzz run found ``OPTIONS …/scratchpad/`` and ``…/assessment/`` answering 500: DRF's metadata
asks a generic view for its queryset, which these views had not needed before.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver

from incidents.models import MajorIncident
from tests.conftest import bearer_client
from warroom import services
from warroom.api import urls


def _paths(mi: MajorIncident, item_id: int) -> list[str]:
    paths = []
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern | URLResolver)
        route = str(pattern.pattern)
        for name, value in (("<int:item_id>", item_id), ("<int:version>", 1)):
            route = route.replace(name, str(value))
        assert "<" not in route, route  # a path parameter this test does not fill yet
        paths.append(f"/api/major-incidents/{mi.number}/{route}")
    return paths


@pytest.mark.parametrize("persona", ["bob", "tina", "oscar", "alice"])
def test_options_never_fails(request: Any, persona: str, bob: Any, mi: MajorIncident) -> None:
    alice = request.getfixturevalue("alice")
    item = services.add_action_item(mi=mi, actor=alice, title="Fail over the DB")
    services.save_scratchpad(mi=mi, actor=alice, text="notes", version=0)
    client = bearer_client(request.getfixturevalue(persona))
    for path in _paths(mi, item.pk):
        response = client.options(path)
        assert response.status_code < 500, (path, response.status_code)
        assert response.status_code in (200, 403), (path, response.status_code)
