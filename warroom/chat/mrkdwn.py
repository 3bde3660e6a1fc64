"""Slack's text format, both ways: what a slash command's ``text`` holds, and what a reply may.

Slack uses ``&``, ``<`` and ``>`` as control characters: a mention is ``<@U0123ABCD|name>``, a
channel ``<#C0123|name>``, a link ``<https://…|label>``, ``<!here>`` a broadcast; a literal
``<`` typed by a person arrives as ``&lt;``. Incoming text is decoded into plain text for the
timeline (mentions as ``@name``, entities back to characters); every piece of user text in a
reply is escaped, so nothing a person wrote can turn into a mention, a broadcast or a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# One control sequence: everything between a ``<`` and the next ``>``.
_TOKEN = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"@([UW][A-Z0-9]{2,31})(?:\|([^>]*))?")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
# C0 controls but tab and newline, and DEL: never meaningful in a post, and PostgreSQL refuses NUL.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A whole argument that is one mention: ``<@U0123ABCD|name>`` or ``<@U0123ABCD>``.
_WHOLE_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^<>]*)?>")

SlackName = Callable[[str, str], str]


def escape(text: str) -> str:
    """``text`` as literal characters in a Slack message (Slack's three entities, nothing else)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = 300) -> str:
    """At most ``limit`` characters of ``text``, marked when cut (a reply echoes, never floods)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def link(url: str, label: str) -> str:
    """A Slack link to one of our own URLs, its label escaped."""
    return f"<{url}|{escape(label)}>"


def unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text)


def clean(text: str) -> str:
    """The control characters a person cannot mean (NUL among them) removed."""
    return _CONTROLS.sub("", text)


def mentioned(argument: str) -> str | None:
    """The Slack member id if ``argument`` is exactly one mention, else None."""
    match = _WHOLE_MENTION.fullmatch(argument.strip())
    return match.group(1) if match else None


def decode(text: str, name_of: SlackName) -> str:
    """Slack's ``text`` as the plain text a person meant.

    ``name_of(slack_id, shown_name)`` gives the name a mention stands for (the MIM Desk username
    of a linked person); channels, broadcasts and links become their readable labels.
    """
    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        out.append(unescape(text[last : match.start()]))
        out.append(_readable(match.group(1), name_of))
        last = match.end()
    out.append(unescape(text[last:]))
    return clean("".join(out))


def _readable(token: str, name_of: SlackName) -> str:
    body, _, label = token.partition("|")
    label = unescape(label)
    mention = _MENTION.fullmatch(token)
    if mention:
        return "@" + name_of(mention.group(1), unescape(mention.group(2) or ""))
    if body.startswith("#"):
        return "#" + (label or body[1:])
    if body.startswith("!"):
        # <!here>, <!channel>, <!subteam^S123|@team>, <!date^…|fallback>
        command = body[1:].split("^", 1)[0]
        return label or f"@{command}"
    url = unescape(body)
    return url if not label or label == url else f"{label} ({url})"
