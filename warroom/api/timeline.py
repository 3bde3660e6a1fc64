"""API of the war room's timeline and threads (under /api/major-incidents/<number>/).

- ``timeline/``: GET newest first by cursor (``?cursor=`` the next, older page; ``?since=`` a
  poll for what came after, one indexed query), filtered by ``?thread=`` and ``?kind=``; every
  answer carries the ``since`` cursor to poll with next. POST a note, command update, decision or
  finding, perhaps correcting an earlier entry.
- ``threads/``: GET the MI's threads (the command thread first); POST opens one.

Each request reads the MI as ``MajorIncidentViewSet`` does: no view permission on any MI → 403;
an unknown number → 404; an MI the user may not see → 403 saying who may.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.html import escape
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from incidents.api.permissions import Can
from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer, UsernameField
from incidents.models import POST_KINDS, MajorIncident, TimelineEntry

from .. import services
from ..selectors import markdown, timeline
from ..selectors.timeline import BEFORE, SINCE, ThreadView
from ..services import timeline as services_timeline
from .common import major_incident

CAN_VIEW_MIS = Can.of("view", MajorIncident)


# --- Serializers ----------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would take ``123`` or ``1.5`` as text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.INT)
class StrictIdField(serializers.Field):
    default_error_messages = {"invalid": "An entry's id, an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or not 0 < data < 2**63:
            self.fail("invalid")
        return int(data)

    def to_representation(self, value: Any) -> Any:
        return value


def body_html(entry: TimelineEntry) -> str:
    """A post's Markdown rendered safely; a service's row (plain text) escaped."""
    if entry.kind in POST_KINDS:
        return markdown.render(entry.message)
    return str(escape(entry.message))


class TimelineEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    body = serializers.CharField(source="message", help_text="As written (Markdown for posts)")
    body_html = serializers.SerializerMethodField(help_text="Safe HTML: rendered Markdown")
    thread = serializers.CharField(help_text='The thread\'s slug; "" for none')
    author = serializers.SerializerMethodField(help_text="Username; null for the system")
    created_at = serializers.DateTimeField()
    corrects = serializers.IntegerField(source="corrects_id", allow_null=True)
    corrected_by = serializers.SerializerMethodField(help_text="Ids of the entries correcting it")

    def get_body_html(self, entry: TimelineEntry) -> str:
        return body_html(entry)

    def get_author(self, entry: TimelineEntry) -> str | None:
        return entry.actor.username if entry.actor_id and entry.actor else None

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_corrected_by(self, entry: TimelineEntry) -> list[int]:
        return timeline.corrected_by(entry)


class TimelinePageOutput(serializers.Serializer):
    results = TimelineEntryOutput(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The next, older page (null at the end and for a poll)"
    )
    since = serializers.CharField(help_text="Poll with ?since= this for what comes after")
    more = serializers.BooleanField(help_text="A poll left newer entries: poll again now")


class PostInput(InputSerializer):
    body = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=services_timeline.MAX_BODY,
        help_text="Markdown, at most 10,000 characters",
    )
    kind = serializers.ChoiceField(choices=[str(k) for k in POST_KINDS], default="note")
    thread = StrictCharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=64,
        help_text='A thread\'s slug; "command" for command updates (their default); "" for none',
    )
    corrects = StrictIdField(
        required=False, allow_null=True, default=None, help_text="The entry this post corrects"
    )


class ThreadOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    owner = serializers.SerializerMethodField(help_text="Username (the command thread's: the IC)")
    created_at = serializers.DateTimeField(allow_null=True)
    command = serializers.BooleanField(source="is_command")

    def get_owner(self, thread: ThreadView) -> str | None:
        return thread.owner.username if thread.owner else None


class ThreadInput(InputSerializer):
    name = StrictCharField(allow_blank=True, trim_whitespace=False, help_text="At most 120")
    owner = UsernameField(help_text="Someone who may see the MI; the caller by default")


# --- Views ----------------------------------------------------------------------------------------

_FILTERS = [
    OpenApiParameter("thread", OpenApiTypes.STR, description="Only this thread's entries (slug)"),
    OpenApiParameter("kind", OpenApiTypes.STR, description="Only entries of this kind"),
]
_CLOSED = conflict("The major incident is closed or cancelled: its war room is read-only")


def _page_size(request: Request) -> int:
    # Lenient like the project's page-number lists: a bad size is the default, a big one capped.
    try:
        size = int(request.query_params.get("page_size", timeline.PAGE_SIZE))
    except (TypeError, ValueError):
        return timeline.PAGE_SIZE
    return max(1, min(size, timeline.MAX_PAGE_SIZE))


class TimelineView(APIView):
    permission_classes = [CAN_VIEW_MIS]

    @extend_schema(
        operation_id="major_incidents_timeline_list",
        parameters=[
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="The `next` link's cursor: older entries"
            ),
            OpenApiParameter(
                "since",
                OpenApiTypes.STR,
                description="A `since` cursor: the entries after it (a poll), newest first",
            ),
            *_FILTERS,
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="Entries a page (50; at most 500)"
            ),
        ],
        responses={200: TimelinePageOutput},
    )
    def get(self, request: Request, number: str) -> Response:
        """The MI's timeline (its rows and its incident's), newest first, by cursor."""
        mi = major_incident(request, number)
        params = request.query_params
        thread = timeline.clean_thread_filter(params.get("thread"))
        kind = timeline.clean_kind(params.get("kind"))
        size = _page_size(request)
        if "since" in params and "cursor" in params:
            raise serializers.ValidationError({"since": ["give since or cursor, not both"]})
        if "since" in params:
            since = timeline.decode_cursor(params["since"], kind=SINCE, field_name="since")
            page = timeline.poll(mi, since=since, thread=thread, kind=kind, size=size)
        else:
            before = None
            if "cursor" in params:
                before = timeline.decode_cursor(params["cursor"], kind=BEFORE, field_name="cursor")
            page = timeline.page(mi, thread=thread, kind=kind, before=before, size=size)
        next_link = None
        if page.before:
            url = remove_query_param(request.build_absolute_uri(), "since")
            next_link = replace_query_param(url, "cursor", page.before)
        body = {
            "results": TimelineEntryOutput(page.entries, many=True).data,
            "next": next_link,
            "since": page.since,
            "more": page.more,
        }
        return Response(body)

    @extend_schema(
        operation_id="major_incidents_timeline_create",
        request=PostInput,
        responses={201: TimelineEntryOutput, 409: _CLOSED},
    )
    def post(self, request: Request, number: str) -> Response:
        """Post to the timeline (the MI's team); command updates: its IC and scribe only."""
        mi = major_incident(request, number)
        data = PostInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entry = services.post_to_timeline(
            mi=mi,
            actor=request.user,
            body=values["body"],
            kind=values["kind"],
            thread=values["thread"],
            corrects=values["corrects"],
        )
        fresh = timeline.entries(mi).get(pk=entry.pk)
        return Response(TimelineEntryOutput(fresh).data, status=status.HTTP_201_CREATED)


class ThreadsView(APIView):
    permission_classes = [CAN_VIEW_MIS]

    @extend_schema(operation_id="major_incidents_threads_list", responses=ThreadOutput(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The MI's threads: the command thread (its owner the IC), then the subsystem threads."""
        mi = major_incident(request, number)
        return Response(ThreadOutput(timeline.threads(mi), many=True).data)

    @extend_schema(
        operation_id="major_incidents_threads_create",
        request=ThreadInput,
        responses={201: ThreadOutput, 409: _CLOSED},
    )
    def post(self, request: Request, number: str) -> Response:
        """Open a subsystem thread (the MI's team), owned by someone who may see the MI."""
        mi = major_incident(request, number)
        data = ThreadInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        row = services.open_thread(
            mi=mi, actor=request.user, name=values["name"], owner=values.get("owner")
        )
        view = ThreadView(slug=row.slug, name=row.name, owner=row.owner, created_at=row.created_at)
        return Response(ThreadOutput(view).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("timeline/", TimelineView.as_view(), name="warroom-timeline"),
    path("threads/", ThreadsView.as_view(), name="warroom-threads"),
]
