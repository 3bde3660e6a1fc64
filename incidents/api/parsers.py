"""The API's only request parser: JSON, refusing what would otherwise end in a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No documented body nests deeper than three levels; the bound keeps every later step that walks
# the data recursively (validation, copies, json.dumps into a JSONField) far from Python's limit.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply is a 400 like any malformed JSON.

    ``json.loads`` recurses once per level and raises ``RecursionError`` near 1,000 levels, which
    DRF does not catch; below that, the data is refused past ``MAX_DEPTH`` levels.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        if depth_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return data


def depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit`` in ``data`` (walked, not recursed)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
