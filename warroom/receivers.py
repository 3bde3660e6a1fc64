"""The war room's receivers of lower-app signals: one-liners that call a war-room service."""

from __future__ import annotations
