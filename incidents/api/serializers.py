from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import services
from incidents.models import (
    Change,
    ConfigurationItem,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    NumberedModel,
    NumberedQuerySet,
    Problem,
    SystemProperty,
    TimelineEntry,
)
from incidents.properties import REGISTRY

User = get_user_model()

_PK = re.compile(r"[0-9]{1,19}")


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A row by its integer id. ``1.5``, ``true`` or ``"7a"`` are refused, not read as a row.

    DRF's own field hands any value to the database lookup, which turns ``1.5`` and ``true`` into
    row 1: a client's mistake would silently point at some other CI.
    """

    def to_internal_value(self, data: Any) -> Any:
        integral = isinstance(data, int) and not isinstance(data, bool)
        if not integral and not (isinstance(data, str) and _PK.fullmatch(data)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictInputMixin:
    """Refuse body keys the serializer cannot write: 400 ``{"urgancy": ["unknown field"]}``.

    A typo in a field name would otherwise be dropped without a word and the request succeed
    doing less than the client meant. A read-only field (``number``, ``created_at``) is refused
    too, with its own message: the request schema does not list it either.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            errors = {}
            for key in sorted(str(name) for name in data):
                if key not in fields:
                    errors[key] = ["unknown field"]
                elif fields[key].read_only:
                    errors[key] = ["read-only field: it cannot be set"]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base of the serializers that only parse a request body."""


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Base of the API's model serializers: strict keys, strict ids."""

    serializer_related_field = StrictPrimaryKeyRelatedField


class UsernameField(serializers.SlugRelatedField):
    """A user referred to by username, as everywhere in the API."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", User.objects.all())
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(slug_field="username", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        # No username holds a NUL byte, and PostgreSQL refuses one in a query with an error.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "example": "INC0000001", "nullable": True})
class NumberField(serializers.RelatedField):
    """A ticket referred to by its public number (``INC0000042``)."""

    default_error_messages = {
        "does_not_exist": "{value} does not exist.",
        "invalid": "Expected a number like {example}.",
    }

    def __init__(self, model: type[NumberedModel], **kwargs: Any) -> None:
        self.model = model
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects.all())
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> models.Model:
        if not isinstance(data, str):
            self.fail("invalid", example=f"{self.model.NUMBER_PREFIX}0000001")
        queryset = cast(NumberedQuerySet, self.get_queryset())
        obj = queryset.by_number(data).first()
        if obj is None:
            if self.model.pk_from_number(data) is None:
                self.fail("invalid", example=f"{self.model.NUMBER_PREFIX}0000001")
            self.fail("does_not_exist", value=data)
        return obj

    def to_representation(self, value: Any) -> str:
        return value.number

    def get_attribute(self, instance: Any) -> Any:
        # Build the number from the foreign key id alone: no query for the related row.
        pk = getattr(instance, f"{self.source}_id", None)
        if not pk:
            return None
        stand_in = self.model()
        stand_in.pk = pk
        return stand_in

    def use_pk_only_optimization(self) -> bool:
        return False


# --- CMDB -----------------------------------------------------------------------------------------


class ConfigurationItemSerializer(StrictModelSerializer):
    depends_on = StrictPrimaryKeyRelatedField(
        many=True,
        queryset=ConfigurationItem.objects.all(),
        required=False,
        help_text="Ids of the CIs this CI depends on (its providers).",
    )

    class Meta:
        model = ConfigurationItem
        fields = [
            "id", "name", "kind", "user_count", "owner_group", "criticality", "description",
            "depends_on", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> ConfigurationItem:
        depends_on = validated_data.pop("depends_on", [])
        return services.save_configuration_item(
            actor=self.context["request"].user, depends_on=depends_on, **validated_data
        )

    def update(
        self, instance: ConfigurationItem, validated_data: dict[str, Any]
    ) -> ConfigurationItem:
        depends_on = validated_data.pop("depends_on", None)
        return services.save_configuration_item(
            actor=self.context["request"].user, ci=instance, depends_on=depends_on, **validated_data
        )


class AffectedCISerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    user_count = serializers.IntegerField()


class ImpactQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        help_text="List at most this many affected CIs (the totals still count all of them)",
    )


class ImpactSerializer(serializers.Serializer):
    affected_users = serializers.IntegerField()
    affected_ci_count = serializers.IntegerField(
        help_text="All affected CIs, however many are listed"
    )
    affected_cis = AffectedCISerializer(many=True)


# --- Incidents ------------------------------------------------------------------------------------


class IncidentCandidateSerializer(serializers.ModelSerializer):
    """An incident's proposal as a major incident (by a rule, or flagged by a technician), as the
    incident's detail shows it; the full row is under ``/api/major-incident-candidates/``."""

    rule: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    flagged_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    decided_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        ref_name = "IncidentCandidate"
        model = MajorIncidentCandidate
        fields = [
            "id", "status", "reason", "rule", "flagged_by", "created_at", "decided_by",
            "decided_at", "decision_reason",
        ]  # fmt: skip
        read_only_fields = fields


class FlagMajorInputSerializer(InputSerializer):
    """``POST /api/incidents/{number}/flag-major/``: why this may be a major incident."""

    reason = serializers.CharField(
        max_length=services.FLAG_REASON_MAX_LENGTH,
        help_text="What the technician saw (required; the manager reads it in the queue)",
    )


class IncidentSerializer(StrictModelSerializer):
    number = serializers.CharField(read_only=True)
    caller = UsernameField()
    assigned_to = UsernameField()
    # DRF moves declared fields off the class, so this does not shadow Field.parent at run time.
    parent = NumberField(Incident, read_only=True)  # type: ignore[assignment]
    problem = NumberField(Problem)
    affected_ci_name = serializers.SerializerMethodField()
    major_incident = serializers.SerializerMethodField()
    major_incident_status = serializers.SerializerMethodField()
    major_incident_candidate = serializers.SerializerMethodField()
    priority = serializers.ChoiceField(
        choices=[1, 2, 3, 4, 5],
        required=False,
        allow_null=True,
        help_text="Computed from impact and urgency. Only an ITSM manager or super admin may set "
        "it; null hands it back to the matrix.",
    )

    class Meta:
        model = Incident
        fields = [
            "number", "short_description", "description", "caller", "channel", "affected_ci",
            "affected_ci_name", "impact", "urgency", "priority", "priority_is_manual", "state",
            "assignment_group", "assigned_to", "parent", "problem", "affected_users",
            "is_security", "resolution_notes", "impact_started_at", "detected_at",
            "created_at", "updated_at", "acknowledged_at", "resolved_at", "closed_at",
            "major_incident", "major_incident_status", "major_incident_candidate",
        ]  # fmt: skip
        read_only_fields = [
            "priority_is_manual", "affected_users", "resolution_notes", "created_at",
            "updated_at", "acknowledged_at", "resolved_at", "closed_at",
        ]  # fmt: skip
        extra_kwargs = {"state": {"required": False}}

    @extend_schema_field({"type": "string", "nullable": True})
    def get_affected_ci_name(self, incident: Incident) -> str | None:
        return incident.affected_ci.name if incident.affected_ci else None

    @staticmethod
    def _major(incident: Incident) -> MajorIncident | None:
        try:
            return incident.major_incident  # the view selects it with the incident
        except MajorIncident.DoesNotExist:
            return None

    @extend_schema_field({"type": "string", "nullable": True, "example": "MI0000042"})
    def get_major_incident(self, incident: Incident) -> str | None:
        major = self._major(incident)
        return major.number if major else None

    @extend_schema_field(
        serializers.ChoiceField(choices=MIStatus.choices, allow_null=True, read_only=True)
    )
    def get_major_incident_status(self, incident: Incident) -> str | None:
        major = self._major(incident)
        return major.status if major else None

    @extend_schema_field(IncidentCandidateSerializer(allow_null=True, read_only=True))
    def get_major_incident_candidate(self, incident: Incident) -> dict[str, Any] | None:
        try:
            candidate = incident.mi_candidate  # the view selects it with the incident
        except MajorIncidentCandidate.DoesNotExist:
            return None
        return dict(IncidentCandidateSerializer(candidate).data)

    def create(self, validated_data: dict[str, Any]) -> Incident:
        # create_incident refuses any initial state but "new" itself, for every surface.
        return services.create_incident(actor=self.context["request"].user, **validated_data)

    def update(self, instance: Incident, validated_data: dict[str, Any]) -> Incident:
        return services.update_incident(
            incident=instance, actor=self.context["request"].user, **validated_data
        )


class ResolveSerializer(InputSerializer):
    resolution_notes = serializers.CharField(
        allow_blank=False, trim_whitespace=True, max_length=10_000
    )


class LinkSerializer(InputSerializer):
    parent = NumberField(Incident, required=True, allow_null=False)  # type: ignore[assignment]


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "message", "data", "actor", "created_at"]
        read_only_fields = fields


# --- Problems and changes -------------------------------------------------------------------------


class ProblemSerializer(StrictModelSerializer):
    number = serializers.CharField(read_only=True)
    assigned_to = UsernameField()
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Problem
        fields = [
            "number", "short_description", "description", "state", "affected_ci",
            "assigned_to", "known_error", "root_cause", "workaround", "created_by",
            "created_at", "updated_at", "resolved_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "resolved_at"]

    def create(self, validated_data: dict[str, Any]) -> Problem:
        return services.save_problem(
            problem=Problem(**validated_data), actor=self.context["request"].user
        )

    def update(self, instance: Problem, validated_data: dict[str, Any]) -> Problem:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return services.save_problem(problem=instance, actor=self.context["request"].user)


class ChangeSerializer(StrictModelSerializer):
    number = serializers.CharField(read_only=True)
    implementer = UsernameField()
    problem = NumberField(Problem)
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Change
        fields = [
            "number", "short_description", "description", "change_type", "state", "risk",
            "affected_ci", "problem", "implementer", "planned_start", "planned_end",
            "actual_start", "actual_end", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Change:
        return services.save_change(
            change=Change(**validated_data), actor=self.context["request"].user
        )

    def update(self, instance: Change, validated_data: dict[str, Any]) -> Change:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return services.save_change(change=instance, actor=self.context["request"].user)


# --- System properties ----------------------------------------------------------------------------


class SystemPropertySerializer(serializers.ModelSerializer):
    updated_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    type = serializers.SerializerMethodField()
    default = serializers.SerializerMethodField(method_name="get_default_value")
    description = serializers.SerializerMethodField()

    class Meta:
        model = SystemProperty
        fields = ["key", "value", "type", "default", "description", "updated_at", "updated_by"]
        read_only_fields = ["key", "updated_at"]

    def get_type(self, obj: SystemProperty) -> str:
        return REGISTRY[obj.key].type_name if obj.key in REGISTRY else "unknown"

    @extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
    def get_default_value(self, obj: SystemProperty) -> Any:
        spec = REGISTRY.get(obj.key)
        return spec.default if spec else None

    def get_description(self, obj: SystemProperty) -> str:
        spec = REGISTRY.get(obj.key)
        return spec.description if spec else ""


class SystemPropertyUpdateSerializer(InputSerializer):
    value = serializers.JSONField(help_text="An integer or a string, as the property's type says.")
