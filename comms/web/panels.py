"""comms' panels on the war-room page (registered with ``warroom.web.page`` at start-up)."""

from __future__ import annotations


def register() -> None:
    """Add comms' panels to the war-room page (``CommsConfig.ready`` calls it)."""
    from warroom.web.page import ExtraPanel, register_panel

    from . import updates, upstream

    register_panel(
        ExtraPanel(slot="main", area="updates", template=updates.TEMPLATE, context=updates.panel)
    )
    register_panel(
        ExtraPanel(slot="side", area="upstream", template=upstream.TEMPLATE, context=upstream.panel)
    )
