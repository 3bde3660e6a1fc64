"""Ticket numbering shared by incidents, problems, changes and major incidents."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from django.db import models

NUMBER_DIGITS = 7


class BoundedJSONDecoder(json.JSONDecoder):
    """JSON decoding that calls too deep a nesting invalid JSON, instead of raising.

    ``json.loads`` recurses once per level and raises ``RecursionError`` near 1,000 levels; a
    form's JSON field (the admin's) catches only ``JSONDecodeError``, so it would be a 500. For
    the JSON fields people type into.
    """

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().decode(s, *args, **kwargs)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", s, 0) from None


class NumberedQuerySet(models.QuerySet):
    def by_number(self, number: str) -> models.QuerySet:
        """Rows whose public number (``INC0000042``) is ``number``; none when it is malformed."""
        pk = self.model.pk_from_number(number)
        return self.filter(pk=pk) if pk is not None else self.none()


class NumberedModel(models.Model):
    """A ticket numbered by prefix + primary key: never reused, and no extra write at insert."""

    NUMBER_PREFIX: ClassVar[str] = ""

    objects = NumberedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        short = getattr(self, "short_description", "")
        return f"{self.number} {short}".strip()

    @property
    def number(self) -> str:
        return f"{self.NUMBER_PREFIX}{self.pk:0{NUMBER_DIGITS}d}" if self.pk else ""

    @classmethod
    def pk_from_number(cls, number: str) -> int | None:
        match = re.fullmatch(
            rf"{cls.NUMBER_PREFIX}(\d{{{NUMBER_DIGITS},18}})", number.strip().upper()
        )
        return int(match.group(1)) if match else None
