"""The review's API under /api/major-incidents/<number>/pir/.

- ``GET pir/``: the document — every section, figures, status, version, meeting, authors,
  action items, comments count, what blocks publishing, the timeline and links;
  ``PATCH pir/``: sections and figures (``version`` optional; a stale one is a 409 naming
  ``version`` and carrying the current one under ``current``);
- ``POST pir/submit/``, ``POST pir/publish/``; ``GET pir/export.md`` (Markdown, a download);
- ``GET/POST pir/comments/``; ``GET/POST pir/action-items/``, ``PATCH pir/action-items/<id>/``;
- ``POST pir/draft/``: a first draft of summary, detection and resolution, not saved.

Reading needs ``view`` on the MI (the base view); writes ask ``pir.selectors.access`` in their
service (write: the MI's team and managers; publish: its commander and managers). An MI without a
review (not resolved yet) is a 404 saying so.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.pagination import Pagination
from incidents.api.schema import conflict
from incidents.models import MajorIncident
from warroom.api.common import NUMBER, MajorIncidentResourceView

from .. import selectors, services
from ..models import PostIncidentReview, ReviewActionItem, ReviewComment
from ..selectors.document import timeline_rows
from ..selectors.export import markdown
from ..services import drafting
from .serializers import (
    ActionItemInputSerializer,
    ActionItemSerializer,
    CommentInputSerializer,
    CommentSerializer,
    DraftInputSerializer,
    DraftSerializer,
    ReviewChangeSerializer,
    ReviewSerializer,
)

ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)
_PUBLISHED = conflict("The review is published: it is final")


def _body(request: Request, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """The body as sent, once its shape passed ``serializer`` (unknown keys and wrong types are
    a 400 naming the field, before the review is looked up); the service checks the rest."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationError({"detail": "the body must be a JSON object"})
    serializer(data=data).is_valid(raise_exception=True)
    return dict(data)


def items_of(review: PostIncidentReview) -> Any:
    return selectors.action_items(review).select_related("created_by")


class ReviewResourceView(MajorIncidentResourceView):
    pagination_class: Any = None

    def get_mi(self) -> MajorIncident:
        # Asked first for the permission check, then for the review: one look-up.
        if not hasattr(self, "_mi"):
            self._mi = super().get_mi()
        return self._mi

    def get_review(self) -> PostIncidentReview:
        mi = self.get_mi()
        review = selectors.review_of(mi)
        if review is None:
            raise NotFound(
                f"{mi.number} has no post-incident review yet: it is made when the MI is resolved"
            )
        return review


def review_response(review: PostIncidentReview, code: int = status.HTTP_200_OK) -> Response:
    """The document read fresh, in a fixed number of queries however long it is."""
    fresh = selectors.reviews().get(pk=review.pk)
    context = {
        "items": list(items_of(fresh)),
        "comments_count": fresh.comments.count(),
        "blockers": services.publish_blockers(fresh),
        "timeline": fresh.timeline or timeline_rows(fresh.major_incident),
    }
    return Response(ReviewSerializer(fresh, context=context).data, status=code)


class ReviewView(ReviewResourceView):
    serializer_class = ReviewSerializer

    @extend_schema(parameters=[NUMBER], responses=ReviewSerializer)
    def get(self, request: Request, number: str) -> Response:
        """The MI's review, whole."""
        return review_response(self.get_review())

    @extend_schema(
        parameters=[NUMBER],
        request=ReviewChangeSerializer,
        responses={
            200: ReviewSerializer,
            409: conflict('The version is stale: the body is {"version": ["…"], "current": '
                          '{"version", "updated_at"}}, the current review\'s; or the review is '
                          "published"),
        },
    )  # fmt: skip
    def patch(self, request: Request, number: str) -> Response:
        """Change sections and figures (the team; ``post_publicly`` and ``public_summary`` the
        commander or a manager). ``version``, when given, must be the current one."""
        selectors.ensure_write(request.user, self.get_mi())  # 403 before the body is read
        changes = _body(request, ReviewChangeSerializer)
        review = self.get_review()
        version = changes.pop("version", None)
        review = services.update_review(
            review=review, actor=request.user, changes=changes, version=version
        )
        return review_response(review)


class SubmitView(ReviewResourceView):
    serializer_class = ReviewSerializer
    http_method_names = ["post", "options"]

    @extend_schema(
        parameters=[NUMBER],
        request=None,
        responses={200: ReviewSerializer, 409: conflict("Only a draft is submitted for review")},
    )
    def post(self, request: Request, number: str) -> Response:
        """Ask for review comments: draft → in_review."""
        return review_response(services.submit_review(review=self.get_review(), actor=request.user))


class PublishView(ReviewResourceView):
    serializer_class = ReviewSerializer
    http_method_names = ["post", "options"]

    @extend_schema(
        parameters=[NUMBER],
        request=None,
        responses={
            200: ReviewSerializer,
            400: OpenApiResponse(
                description="Not ready: a summary, the root causes or an action item's owner, "
                "due date or priority is missing (the body names the field)"
            ),
            409: _PUBLISHED,
        },
    )
    def post(self, request: Request, number: str) -> Response:
        """Publish (the commander or a manager): needs a summary, root causes, and an owner, a
        due date and a priority on every action item (else 400 naming ``action_items``). The
        summary goes to IT leadership and the ITSM managers; a P1's public version, when
        chosen, to the status page."""
        return review_response(
            services.publish_review(review=self.get_review(), actor=request.user)
        )


class MarkdownRenderer(renderers.BaseRenderer):
    """Lets a client that asks for ``text/markdown`` in Accept get the export (not a 406)."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return (data if isinstance(data, str) else json.dumps(data)).encode()


class ExportView(ReviewResourceView):
    http_method_names = ["get", "head", "options"]
    renderer_classes = [renderers.JSONRenderer, MarkdownRenderer]

    @extend_schema(
        parameters=[NUMBER],
        responses={(200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        """The review as Markdown, as a download."""
        review = self.get_review()
        fresh = selectors.reviews().get(pk=review.pk)
        response = HttpResponse(markdown(fresh), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{fresh.major_incident.number}-pir.md"'
        )
        return response


class CommentsView(ReviewResourceView):
    serializer_class = CommentSerializer
    queryset = ReviewComment.objects.all()
    pagination_class = Pagination

    @extend_schema(parameters=[NUMBER], responses=CommentSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The review's comments, oldest first."""
        rows = self.get_review().comments.select_related("author").order_by("created_at", "id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[NUMBER],
        request=CommentInputSerializer,
        responses={201: CommentSerializer},
    )
    def post(self, request: Request, number: str) -> Response:
        """Comment on the review or on one of its sections (the team)."""
        selectors.ensure_write(request.user, self.get_mi())  # 403 before the body is read
        body = CommentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = self.get_review()
        comment = services.add_comment(
            review=review,
            actor=request.user,
            body=body.validated_data["body"],
            section=body.validated_data.get("section", ""),
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class ActionItemsView(ReviewResourceView):
    serializer_class = ActionItemSerializer
    queryset = ReviewActionItem.objects.all()
    pagination_class = Pagination

    @extend_schema(parameters=[NUMBER], responses=ActionItemSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The review's action items, oldest first."""
        page = self.paginate_queryset(items_of(self.get_review()))
        return self.get_paginated_response(ActionItemSerializer(page, many=True).data)

    @extend_schema(
        parameters=[NUMBER],
        request=ActionItemInputSerializer,
        responses={201: ActionItemSerializer, 409: _PUBLISHED},
    )
    def post(self, request: Request, number: str) -> Response:
        """Add an action item (the team); ``title`` is required."""
        selectors.ensure_write(request.user, self.get_mi())
        fields = _body(request, ActionItemInputSerializer)
        review = self.get_review()
        item = services.add_action_item(review=review, actor=request.user, fields=fields)
        fresh = items_of(review).get(pk=item.pk)
        return Response(ActionItemSerializer(fresh).data, status=status.HTTP_201_CREATED)


class ActionItemView(ReviewResourceView):
    serializer_class = ActionItemSerializer
    queryset = ReviewActionItem.objects.all()
    http_method_names = ["patch", "options"]

    @extend_schema(
        parameters=[NUMBER, ITEM_ID],
        request=ActionItemInputSerializer,
        responses={
            200: ActionItemSerializer,
            409: conflict("The review is published: only the status changes"),
        },
    )
    def patch(self, request: Request, number: str, item_id: int) -> Response:
        """Change an action item. Another MI's item is a 404."""
        selectors.ensure_write(request.user, self.get_mi())
        fields = _body(request, ActionItemInputSerializer)
        review = self.get_review()
        item = get_object_or_404(selectors.action_items(review), pk=item_id)
        item = services.update_action_item(item=item, actor=request.user, fields=fields)
        fresh = items_of(review).get(pk=item.pk)
        return Response(ActionItemSerializer(fresh).data)


class DraftView(ReviewResourceView):
    serializer_class = DraftSerializer
    http_method_names = ["post", "options"]

    @extend_schema(parameters=[NUMBER], request=DraftInputSerializer, responses=DraftSerializer)
    def post(self, request: Request, number: str) -> Response:
        """A proposal for the summary, detection and resolution sections from the MI's records
        (offline, or by the drafting model when configured); not saved: PATCH it into pir/."""
        selectors.ensure_write(request.user, self.get_mi())
        body = DraftInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = self.get_review()
        draft = drafting.draft_review(
            review=review, actor=request.user, drafter=body.validated_data["drafter"]
        )
        return Response(
            DraftSerializer(
                {"sections": draft.sections, "drafted_by": draft.drafted_by, "note": draft.note}
            ).data
        )
