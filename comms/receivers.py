"""Comms hangs off the domain signals of the incidents and war-room apps: each receiver is a
one-liner that calls a comms service with the ids the signal carries."""

from __future__ import annotations
