"""The war-room page: /war-rooms/<number>/, the MI's live home."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def war_room(request: HttpRequest, number: str) -> HttpResponse:
    # Until the page is built the MI page stands in for it.
    return redirect("majors:detail", number=number)
