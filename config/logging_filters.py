"""Filters for the ``LOGGING`` setting."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class RefusalWithoutTraceback(logging.Filter):
    """A 403 is an answer, not a failure: keep Django's one warning line, drop the traceback.

    Django logs every ``PermissionDenied`` on ``django.request`` with the exception attached, so
    each refused page put a whole traceback in the log and buried the real errors.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
