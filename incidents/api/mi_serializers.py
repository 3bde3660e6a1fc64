"""Major incidents over the API: input serializers per operation, output serializers to show.

Operations (declare, transition, milestones, roles, candidates) are explicit endpoints whose
input serializers only parse; the services in ``incidents.majors`` decide (STYLE habit 7).
"""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import selectors
from incidents.models import (
    MILESTONES,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    Problem,
    RaciRole,
    RoleAssignment,
)

from .serializers import InputSerializer, NumberField, UsernameField

# --- Output ---------------------------------------------------------------------------------------


class RoleAssignmentSerializer(serializers.ModelSerializer):
    user: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        ref_name = "MajorIncidentRole"
        model = RoleAssignment
        fields = ["id", "role", "user", "assigned_at"]
        read_only_fields = fields


class MilestonesSerializer(serializers.Serializer):
    """Every milestone of DESIGN, null until it happened."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: serializers.DateTimeField(allow_null=True, read_only=True) for name in MILESTONES
        }

    class Meta:
        ref_name = "MajorIncidentMilestones"


class MoveSerializer(serializers.Serializer):
    """One move out of the MI's status, as the caller may make it now (``selectors.Move``)."""

    to = serializers.ChoiceField(choices=MIStatus.choices)
    allowed = serializers.BooleanField(help_text="The transition endpoint accepts it now")
    reason = serializers.CharField(
        allow_null=True, help_text="Why it is not allowed now; null when it is"
    )
    possible_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When it becomes possible by itself (the end of the stability period)",
    )
    can_override = serializers.BooleanField(
        help_text="The caller (the IC) may make it now with override_stability and a reason"
    )

    class Meta:
        ref_name = "MajorIncidentMove"


class MajorIncidentSerializer(serializers.ModelSerializer):
    """One major incident as the API shows it. The view prefetches what it reads."""

    number = serializers.CharField(read_only=True)
    incident = NumberField(Incident, read_only=True)
    incident_short_description = serializers.CharField(
        source="incident.short_description", read_only=True
    )
    trigger_rule: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    declared_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    problem = NumberField(Problem, read_only=True)
    bridge_link = serializers.SerializerMethodField()
    bridge_dial_in = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    child_incidents_count = serializers.SerializerMethodField()
    child_incidents = serializers.SerializerMethodField()
    milestones = serializers.SerializerMethodField()
    war_room = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()
    transitions = serializers.SerializerMethodField()

    class Meta:
        ref_name = "MajorIncident"
        model = MajorIncident
        fields = [
            "number", "status", "incident", "incident_short_description", "summary",
            "impact_statement", "bridge_link", "bridge_dial_in", "is_security", "media_attention",
            "trigger_rule", "trigger_reason", "declared_by", "problem", "changes", "roles",
            "child_incidents_count", "child_incidents", "milestones", "next_update_due_at",
            "cancel_reason", "war_room", "timeline", "allowed_transitions", "transitions",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_bridge_link(self, mi: MajorIncident) -> str | None:
        # The model stores "no bridge" as ""; the API says null, which is not a malformed URL.
        return mi.bridge_link or None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_bridge_dial_in(self, mi: MajorIncident) -> str | None:
        return mi.bridge_dial_in or None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_changes(self, mi: MajorIncident) -> list[str]:
        if mi.problem is None:
            return []
        return [change.number for change in mi.problem.changes.all()]

    @extend_schema_field(RoleAssignmentSerializer(many=True))
    def get_roles(self, mi: MajorIncident) -> list[dict[str, Any]]:
        rows = selectors.active_roles(mi)  # prefetched by the viewset's queryset
        return list(RoleAssignmentSerializer(rows, many=True).data)

    def _children(self, mi: MajorIncident) -> list[Incident]:
        return list(mi.incident.children.all())

    def get_child_incidents_count(self, mi: MajorIncident) -> int:
        return len(self._children(mi))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_child_incidents(self, mi: MajorIncident) -> list[str]:
        return sorted(child.number for child in self._children(mi))

    @extend_schema_field(MilestonesSerializer)
    def get_milestones(self, mi: MajorIncident) -> dict[str, Any]:
        return dict(MilestonesSerializer(mi).data)

    def get_war_room(self, mi: MajorIncident) -> str:
        return f"/war-rooms/{mi.number}/"

    def get_timeline(self, mi: MajorIncident) -> str:
        return reverse("warroom-timeline", kwargs={"number": mi.number})

    def _moves(self, mi: MajorIncident) -> list[selectors.Move]:
        # Both fields read one computation per MI and request (the caller's permissions).
        cache: dict[int, list[selectors.Move]] = self.context.setdefault("_moves", {})
        if mi.pk not in cache:
            request = self.context.get("request")
            manageable: set[int] | None = self.context.get("manageable")
            cache[mi.pk] = selectors.allowed_moves(
                mi,
                request.user if request else None,
                may_manage=None if manageable is None else mi.pk in manageable,
            )
        return cache[mi.pk]

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=MIStatus.choices))
    )
    def get_allowed_transitions(self, mi: MajorIncident) -> list[str]:
        """The moves the caller may make now (``transitions`` says why the others may not)."""
        return [move.to for move in self._moves(mi) if move.allowed]

    @extend_schema_field(MoveSerializer(many=True))
    def get_transitions(self, mi: MajorIncident) -> list[dict[str, Any]]:
        rows = [
            {
                "to": move.to,
                "allowed": move.allowed,
                "reason": move.why or None,
                "possible_at": move.possible_at,
                "can_override": move.can_override,
            }
            for move in self._moves(mi)
        ]
        return list(MoveSerializer(rows, many=True).data)


class CandidateSerializer(serializers.ModelSerializer):
    incident = NumberField(Incident, read_only=True)
    incident_short_description = serializers.CharField(
        source="incident.short_description", read_only=True
    )
    rule: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    flagged_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The technician who flagged it; null when a rule proposed it",
    )
    decided_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    major_incident = NumberField(MajorIncident, read_only=True)

    class Meta:
        ref_name = "MajorIncidentCandidate"
        model = MajorIncidentCandidate
        fields = [
            "id", "incident", "incident_short_description", "rule", "flagged_by", "reason",
            "status", "created_at", "decided_by", "decided_at", "decision_reason", "major_incident",
        ]  # fmt: skip
        read_only_fields = fields


class RaciHoldersSerializer(serializers.Serializer):
    activity = serializers.CharField()
    R = serializers.ListField(child=serializers.CharField(), help_text="Responsible")
    A = serializers.ListField(child=serializers.CharField(), help_text="Accountable")
    C = serializers.ListField(child=serializers.CharField(), help_text="Consulted")
    I = serializers.ListField(child=serializers.CharField(), help_text="Informed")  # noqa: E741

    class Meta:
        ref_name = "MajorIncidentRaci"


# --- Input ----------------------------------------------------------------------------------------


class DeclareInputSerializer(InputSerializer):
    """The documented body of ``POST /api/major-incidents/``."""

    incident_id = NumberField(Incident, required=True, allow_null=False)
    major_incident_manager = UsernameField(required=True, allow_null=False)
    bridge_link = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    initial_impact_statement = serializers.CharField(max_length=10_000)
    is_security = serializers.BooleanField(required=False, default=False)
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)

    class Meta:
        ref_name = "MajorIncidentDeclareInput"


class UpdateInputSerializer(InputSerializer):
    """``PATCH /api/major-incidents/{number}/``: any of what was declared, nothing else."""

    impact_statement = serializers.CharField(required=False, max_length=10_000)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    bridge_link = serializers.URLField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text='An http(s) URL; "" or null clears it',
    )
    bridge_dial_in = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        help_text='Phone number and access code of the bridge; "" or null clears it',
    )
    is_security = serializers.BooleanField(required=False)
    media_attention = serializers.BooleanField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        # InputSerializer refuses unknown keys by name (a typo like ``impact_statment``).
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError(
                {"detail": ["give at least one of: " + ", ".join(self.fields)]}
            )
        if "bridge_link" in values and values["bridge_link"] is None:
            values["bridge_link"] = ""  # stored as "" (no link), like at declaration
        if "bridge_dial_in" in values and values["bridge_dial_in"] is None:
            values["bridge_dial_in"] = ""
        return values

    class Meta:
        ref_name = "MajorIncidentUpdateInput"


class TransitionInputSerializer(InputSerializer):
    to = serializers.ChoiceField(choices=MIStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    override_stability = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "MajorIncidentTransitionInput"


class MilestonesInputSerializer(serializers.Serializer):
    """Any subset of the milestones; null clears one (except declared_at)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: serializers.DateTimeField(required=False, allow_null=True) for name in MILESTONES
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(MILESTONES))
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"{name} is not a milestone"] for name in unknown}
                )
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError({"detail": ["give at least one milestone"]})
        return values

    class Meta:
        ref_name = "MajorIncidentMilestonesInput"


class RoleInputSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=RaciRole.choices)
    user = UsernameField(required=True, allow_null=False)

    class Meta:
        ref_name = "MajorIncidentRoleInput"


class AcceptCandidateInputSerializer(InputSerializer):
    major_incident_manager = UsernameField(
        required=False, allow_null=True, help_text="Defaults to the accepting manager"
    )
    bridge_link = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    initial_impact_statement = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=10_000
    )

    class Meta:
        ref_name = "MajorIncidentCandidateAcceptInput"


class RejectCandidateInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=10_000)

    class Meta:
        ref_name = "MajorIncidentCandidateRejectInput"
