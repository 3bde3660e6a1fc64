"""The comms app's reads, by module: ``messages`` (context, templates, payloads), ``audience``
(who hears a plan entry), ``plan`` (which entries apply)."""

from . import audience, messages, plan

__all__ = ["audience", "messages", "plan"]
