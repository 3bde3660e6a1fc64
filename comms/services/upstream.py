"""The upstream providers' own status pages, read while an MI on their CI is open
(``comms.tasks.watch_upstream_status``)."""

from __future__ import annotations


def watch_upstream_status() -> dict[str, int]:
    """Read the ``summary.json`` of every ``saas_dependency`` CI with an ``upstream_status_url``
    under an open MI; record a change in the war room and on the timeline."""
    raise NotImplementedError
