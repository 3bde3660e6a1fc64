"""Markdown of the war room's posts, rendered to HTML that is safe to put on the page.

Two steps, each enough on its own for the usual attacks, together for the unusual ones:
markdown-it-py with raw HTML off (``<script>`` in a post is text, escaped by the renderer), then
nh3 (ammonia) keeping only a small allowlist of tags, ``href`` only on links and only with the
http, https or mailto scheme: a ``javascript:`` link, an event handler or a tag the renderer
should never have made does not reach the page. Links get ``rel="noopener noreferrer"``.
No linkify: it needs linkify-it-py, which is not in the lock; write ``<https://…>`` instead.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset({"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a"})
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "commonmark" with html off: raw HTML in the source is escaped as text, not passed on.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML, safe to mark safe in a template."""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
