"""Bodies of comms' API: stakeholder updates (in and out), drafts, canned responses."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import InputSerializer
from warroom.api.common import AwareDateTimeField, TextField, username_out

from ..models import StakeholderUpdate
from ..models.plan import DRAFT_TYPES
from ..selectors.updates import DELIVERY_STATUSES, delivery_counts
from ..services.drafting import DRAFTERS
from ..services.updates import MAX_PART, WRITABLE_TYPES

SUBJECT_MAX = 300
BODY_MAX = 20000
_NEXT_HELP = (
    "When the next update follows: ISO 8601 with its zone. Required except for resolution, "
    "all_clear and pir_summary."
)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``: DRF's own would read ``"yes"`` or ``1`` as true."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class DeliverySerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed, will be retried")
    dead = serializers.IntegerField(help_text="Given up on")
    total = serializers.IntegerField()

    class Meta:
        ref_name = "UpdateDelivery"


class UpdateSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(source="update_type", choices=WRITABLE_TYPES, read_only=True)
    author = username_out()
    approver = username_out()
    delivery = serializers.SerializerMethodField(
        help_text="The update's outbox rows (one per recipient × channel) by status"
    )

    class Meta:
        model = StakeholderUpdate
        ref_name = "StakeholderUpdate"
        fields = [
            "id", "type", "status", "subject", "current_impact", "current_action", "user_action",
            "next_update_at", "body", "author", "approver", "approved_at", "sent_at", "automatic",
            "is_public", "drafted_by", "created_at", "updated_at", "delivery",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(DeliverySerializer)
    def get_delivery(self, update: StakeholderUpdate) -> dict[str, int]:
        counts = delivery_counts(update)
        return {**counts, "total": sum(counts[s] for s in DELIVERY_STATUSES)}


def _part(required: bool) -> TextField:
    return TextField(
        required=required, max_length=MAX_PART, help_text="Plain text; one of the four parts"
    )


def _future(value: Any) -> Any:
    # A promise of an update in the past is a typo (a wrong day or zone), not a plan.
    if value is not None and value <= timezone.now():
        raise serializers.ValidationError("The next update time must be in the future.")
    return value


class UpdateInputSerializer(InputSerializer):
    type = serializers.ChoiceField(choices=WRITABLE_TYPES)
    current_impact = _part(True)
    current_action = _part(True)
    user_action = _part(True)
    next_update_at = AwareDateTimeField(required=False, allow_null=True, help_text=_NEXT_HELP)
    subject = TextField(required=False, allow_blank=True, max_length=SUBJECT_MAX)
    body = TextField(required=False, allow_blank=True, max_length=BODY_MAX)
    drafted_by = serializers.ChoiceField(
        choices=["", "template", "copilot"],
        required=False,
        help_text="The drafter whose proposal this is (from POST drafts/), if any",
    )
    send = StrictBooleanField(
        required=False,
        default=False,
        help_text="Send at once (a security MI's update needs a legal approver first: 409)",
    )

    class Meta:
        ref_name = "StakeholderUpdateInput"

    def validate_next_update_at(self, value: Any) -> Any:
        return _future(value)


class UpdateChangeSerializer(InputSerializer):
    current_impact = _part(False)
    current_action = _part(False)
    user_action = _part(False)
    next_update_at = AwareDateTimeField(required=False, allow_null=True, help_text=_NEXT_HELP)
    subject = TextField(required=False, allow_blank=True, max_length=SUBJECT_MAX)
    body = TextField(required=False, allow_blank=True, max_length=BODY_MAX)

    class Meta:
        ref_name = "StakeholderUpdateChange"

    def validate_next_update_at(self, value: Any) -> Any:
        return _future(value)

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError(
                {"detail": ["give at least one of: " + ", ".join(self.fields)]}
            )
        return values


class DraftInputSerializer(InputSerializer):
    type = serializers.ChoiceField(choices=DRAFT_TYPES)
    drafter = serializers.ChoiceField(
        choices=DRAFTERS,
        required=False,
        default="auto",
        help_text='"auto": the drafting model when configured, else the template',
    )

    class Meta:
        ref_name = "UpdateDraftInput"


class DraftSerializer(serializers.Serializer):
    type = serializers.ChoiceField(source="update_type", choices=DRAFT_TYPES)
    subject = serializers.CharField()
    current_impact = serializers.CharField()
    current_action = serializers.CharField()
    user_action = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    next_update_at = serializers.DateTimeField(allow_null=True)
    drafted_by = serializers.ChoiceField(choices=["template", "copilot"])
    note = serializers.CharField(
        allow_blank=True, help_text="Why the drafting model's text was not used, if it was not"
    )
    security_templates = serializers.BooleanField(
        help_text="A security MI under investigation: the draft carries no technical detail"
    )
    is_public = serializers.BooleanField(help_text="The plan shows this type on the status page")
    sources = serializers.ListField(
        child=serializers.CharField(),
        help_text="What the war room said lately (command update, decisions, findings, roles), "
        "to draw on; empty for a security MI under investigation",
    )

    class Meta:
        ref_name = "UpdateDraft"


class CannedResponseSerializer(serializers.Serializer):
    subject = serializers.CharField()
    current_impact = serializers.CharField()
    current_action = serializers.CharField()
    user_action = serializers.CharField()
    text = serializers.CharField(help_text="The whole response, ready to paste into a ticket")
    based_on_update = serializers.IntegerField(
        allow_null=True, help_text="The latest public update it repeats, if any"
    )
    rendered_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CannedResponse"


class InvestigationSerializer(serializers.Serializer):
    investigation_completed_at = serializers.DateTimeField()
    investigation_completed_by = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "SecurityInvestigation"
