"""Action items into work, under /api/major-incidents/<number>/pir/:

- ``POST action-items/<id>/convert/`` ``{"to": "problem_task" | "change" | "jira"}``: one service
  call (``services.actions.convert_action_item``); 201 with the item's links.

Reading the MI needs ``view`` (the base view: 401/403/404); converting asks the run right (the
MI's commander, ITSM managers, super admins) in the service.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.api.serializers import InputSerializer
from warroom.api.common import NUMBER, MajorIncidentResourceView

from ..models import ReviewActionItem
from ..selectors import access
from ..selectors.actions import tracker_of
from ..services import actions

ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class ConvertInputSerializer(InputSerializer):
    to = serializers.ChoiceField(
        choices=actions.CONVERSIONS,
        help_text="What the item becomes: a problem task or a change under the MI's problem, "
        "or an issue in Jira (409 while Jira is not configured)",
    )


class TicketLinkSerializer(serializers.Serializer):
    number = serializers.CharField()
    source_url = serializers.CharField(help_text="Where it points back: the item on the review")

    class Meta:
        ref_name = "ActionItemTicketLink"


class TrackerLinkSerializer(serializers.Serializer):
    key = serializers.CharField(help_text='The issue key, "" until Jira answered')
    url = serializers.CharField(help_text='The issue in Jira, "" until Jira answered')
    status = serializers.CharField(help_text="The outbox row's status: pending … sent, dead")
    error = serializers.CharField(help_text="Jira's last refusal or error, if any")

    class Meta:
        ref_name = "ActionItemTrackerLink"


class ActionItemLinksSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    problem_task = serializers.SerializerMethodField()
    change = serializers.SerializerMethodField()
    tracker = serializers.SerializerMethodField()

    class Meta:
        ref_name = "ActionItemLinks"

    @extend_schema_field(TicketLinkSerializer(allow_null=True))
    def get_problem_task(self, item: ReviewActionItem) -> dict[str, Any] | None:
        task = item.problem_task
        return {"number": task.number, "source_url": task.source_url} if task else None

    @extend_schema_field(TicketLinkSerializer(allow_null=True))
    def get_change(self, item: ReviewActionItem) -> dict[str, Any] | None:
        change = item.change
        return {"number": change.number, "source_url": change.source_url} if change else None

    @extend_schema_field(TrackerLinkSerializer(allow_null=True))
    def get_tracker(self, item: ReviewActionItem) -> dict[str, Any] | None:
        tracker = tracker_of(item)
        if tracker is None:
            return None
        return {
            "key": tracker.key,
            "url": tracker.url,
            "status": tracker.status,
            "error": tracker.error,
        }


def links_of(item_id: int) -> ReviewActionItem:
    return ReviewActionItem.objects.select_related("problem_task", "change", "tracker_message").get(
        pk=item_id
    )


class ConvertActionItemView(MajorIncidentResourceView):
    serializer_class = ConvertInputSerializer
    pagination_class = None
    http_method_names = ["post", "options"]

    @extend_schema(
        parameters=[NUMBER, ITEM_ID],
        request=ConvertInputSerializer,
        responses={
            201: ActionItemLinksSerializer,
            409: conflict(
                "The item is already that kind of work (the body names it), is cancelled, or "
                "Jira is not configured"
            ),
        },
    )
    def post(self, request: Request, number: str, item_id: int) -> Response:
        """Turn a review's action item into work: a problem task or a change under the MI's
        problem, each naming the item as its source, or a Jira issue created through the outbox
        (its key appears in ``tracker`` once Jira answered)."""
        mi = self.get_mi()
        access.ensure_run(request.user, mi)  # 403 before a word of the body is read
        body = ConvertInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Another MI's item is a 404: ids are not a way into an MI one may not see.
        item = ReviewActionItem.objects.filter(review__major_incident=mi, pk=item_id).first()
        if item is None:
            raise Http404("No such action item on this major incident's review")
        actions.convert_action_item(item=item, actor=request.user, to=body.validated_data["to"])
        actions.keep_tracker_links(item_ids=[item.pk])
        return Response(
            ActionItemLinksSerializer(links_of(item.pk)).data, status=status.HTTP_201_CREATED
        )
