"""Mail in: the IMAP mailbox polled into incidents and timelines (``comms.tasks.poll_mailbox``)."""

from __future__ import annotations


def poll_mailbox() -> dict[str, int]:
    """Read new mail from ``MIM_IMAP_URL``: a new mail opens an incident (channel ``email``), a
    reply goes to its incident's timeline, auto-replies and loops are ignored; each message once."""
    raise NotImplementedError
