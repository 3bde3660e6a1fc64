"""comms' API under /api/major-incidents/<number>/.

- ``GET/POST updates/``: the MI's stakeholder updates, newest first; write one (``send`` at once).
- ``GET/PATCH updates/<id>/``; ``POST updates/<id>/submit|approve|send|discard/``: one
  operation each, each one service call (``comms.services.updates``).
- ``POST drafts/``: a proposal from the MI's state (not saved; post it to ``updates/``).
- ``POST security-investigation/complete/``: a security MI's updates may carry detail now.
- ``GET canned-responses/``: what the support team pastes into tickets, rendered now.

Reading needs ``view`` on the MI (the base view); every write asks ``send_updates`` (the IC, the
communications lead, ITSM managers) in its service, and a security MI's approval a legal user.
"""

from __future__ import annotations

from collections.abc import Callable

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.schema import conflict
from incidents.errors import Conflict
from incidents.selectors import ensure
from warroom.api.common import NUMBER, MajorIncidentResourceView

from .. import services
from ..models import CommsState, StakeholderUpdate
from ..selectors import updates as update_selectors
from ..services import drafting
from ..services import updates as update_services
from .serializers import (
    CannedResponseSerializer,
    DraftInputSerializer,
    DraftSerializer,
    InvestigationSerializer,
    UpdateChangeSerializer,
    UpdateInputSerializer,
    UpdateSerializer,
)

UPDATE_ID = OpenApiParameter("update_id", OpenApiTypes.INT, OpenApiParameter.PATH)
_STATE = conflict(
    "The update is sent or discarded, the MI is finished, or (sending) a security MI's update "
    "is not approved by a legal approver yet"
)


def _update_response(update: StakeholderUpdate, code: int = status.HTTP_200_OK) -> Response:
    fresh = update_selectors.updates_of(update.major_incident).get(pk=update.pk)
    return Response(UpdateSerializer(fresh).data, status=code)


class UpdatesView(MajorIncidentResourceView):
    queryset = StakeholderUpdate.objects.all()  # the model, for the schema
    serializer_class = UpdateSerializer

    @extend_schema(parameters=[NUMBER], responses=UpdateSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The MI's stakeholder updates, newest first, each with its delivery by outbox status."""
        rows = update_selectors.updates_of(self.get_mi())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(UpdateSerializer(page, many=True).data)

    @extend_schema(
        parameters=[NUMBER],
        request=UpdateInputSerializer,
        responses={201: UpdateSerializer, 409: _STATE},
    )
    def post(self, request: Request, number: str) -> Response:
        """Write an update in the four parts (a draft; ``send: true`` sends it at once). Whoever
        may send the MI's updates: its IC, its communications lead, ITSM managers."""
        mi = self.get_mi()
        ensure(request.user, "send_updates", mi)  # 403 before a word of the body is read
        body = UpdateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        update = update_services.write_update(
            mi=mi,
            actor=request.user,
            update_type=data.pop("type"),
            send=data.pop("send", False),
            current_impact=data.pop("current_impact"),
            current_action=data.pop("current_action"),
            user_action=data.pop("user_action"),
            next_update_at=data.pop("next_update_at", None),
            **data,
        )
        return _update_response(update, status.HTTP_201_CREATED)


class UpdateView(MajorIncidentResourceView):
    queryset = StakeholderUpdate.objects.all()
    serializer_class = UpdateSerializer
    pagination_class = None

    def get_update(self) -> StakeholderUpdate:
        # Another MI's id is a 404: ids are not a way into an MI one may not see.
        return get_object_or_404(
            update_selectors.updates_of(self.get_mi()), pk=self.kwargs["update_id"]
        )

    @extend_schema(parameters=[NUMBER, UPDATE_ID], responses=UpdateSerializer)
    def get(self, request: Request, number: str, update_id: int) -> Response:
        """One update."""
        return Response(UpdateSerializer(self.get_update()).data)

    @extend_schema(
        parameters=[NUMBER, UPDATE_ID],
        request=UpdateChangeSerializer,
        responses={200: UpdateSerializer, 409: _STATE},
    )
    def patch(self, request: Request, number: str, update_id: int) -> Response:
        """Change a draft, pending or approved update (an approved one goes back to draft)."""
        update = self.get_update()
        ensure(request.user, "send_updates", update.major_incident)
        body = UpdateChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        update = services.edit_update(update=update, actor=request.user, **body.validated_data)
        return _update_response(update)


Operation = Callable[..., StakeholderUpdate]


def _operation_view(operation: Operation, doc: str) -> type[UpdateView]:
    class OperationView(UpdateView):
        @extend_schema(
            parameters=[NUMBER, UPDATE_ID],
            request=None,
            responses={200: UpdateSerializer, 409: _STATE},
            description=doc,
        )
        def post(self, request: Request, number: str, update_id: int) -> Response:
            update = operation(update=self.get_update(), actor=request.user)
            return _update_response(update)

    OperationView.__name__ = f"Update{operation.__name__.split('_')[0].title()}View"
    OperationView.__qualname__ = OperationView.__name__
    # GET is the parent's; these URLs only take POST.
    OperationView.http_method_names = ["post", "options"]
    return OperationView


SubmitView = _operation_view(
    services.submit_update, "Ask for approval (a draft becomes pending approval)."
)
ApproveView = _operation_view(
    services.approve_update,
    "Approve the update. A security MI's updates only a legal approver may approve (else 403).",
)
SendView = _operation_view(
    services.send_update,
    "Send the update to the plan's audience. A draft of an ordinary MI is approved by its "
    "sender on the way; a security MI's update must be approved by a legal approver (else 409).",
)
DiscardView = _operation_view(services.discard_update, "Discard an update that was not sent.")


class DraftsView(MajorIncidentResourceView):
    serializer_class = DraftSerializer
    pagination_class = None

    @extend_schema(
        parameters=[NUMBER],
        request=DraftInputSerializer,
        responses={200: DraftSerializer, 409: conflict("The MI is finished: only a final update")},
    )
    def post(self, request: Request, number: str) -> Response:
        """A proposed update from the MI's state, timeline, roles and next update time; not
        saved and never sent: post it (edited) to ``updates/``. ``drafted_by`` says which
        drafter wrote it, ``note`` why the drafting model's text was not used."""
        mi = self.get_mi()
        ensure(request.user, "send_updates", mi)
        body = DraftInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft = drafting.draft_update(
            mi=mi,
            actor=request.user,
            update_type=body.validated_data["type"],
            drafter=body.validated_data["drafter"],
        )
        return Response(DraftSerializer(draft).data)


class InvestigationView(MajorIncidentResourceView):
    serializer_class = InvestigationSerializer
    pagination_class = None

    @extend_schema(
        parameters=[NUMBER],
        request=None,
        responses={200: InvestigationSerializer, 409: conflict("Not a security incident")},
    )
    def post(self, request: Request, number: str) -> Response:
        """Mark a security MI's investigation complete (a legal user, or whoever manages the
        MI): its updates and drafts may carry technical detail from now on. Idempotent."""
        mi = self.get_mi()
        if not mi.is_security:
            raise Conflict(f"{mi.number} is not a security incident")
        state: CommsState = services.complete_investigation(mi=mi, actor=request.user)
        by = state.investigation_completed_by
        data = {
            "investigation_completed_at": state.investigation_completed_at,
            "investigation_completed_by": by.get_username() if by else None,
        }
        return Response(InvestigationSerializer(data).data)


class CannedResponsesView(MajorIncidentResourceView):
    serializer_class = CannedResponseSerializer
    pagination_class = None

    @extend_schema(parameters=[NUMBER], responses=CannedResponseSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        """The support team's canned response, rendered now with the latest public update."""
        rows = update_selectors.canned_responses(self.get_mi())
        return Response(CannedResponseSerializer(rows, many=True).data)
