"""Bodies of ``/api/scheduled-maintenances/``: input apart from output (the service decides)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import InputSerializer

from ..models import MaintenanceStatus, MaintenanceUpdate, ScheduledMaintenance
from ..services.maintenance import MAX_BODY, MAX_NAME

MAX_COMPONENTS = 200


class MaintenanceUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceUpdate
        fields = ["id", "status", "body", "created_at"]


class ComponentRefSerializer(serializers.Serializer):
    """A component (business service) of a window, as the API names it."""

    id = serializers.IntegerField()
    name = serializers.CharField()


class MaintenanceSerializer(serializers.ModelSerializer):
    components = serializers.SerializerMethodField()
    updates = MaintenanceUpdateSerializer(many=True, read_only=True)
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ScheduledMaintenance
        fields = [
            "id",
            "name",
            "status",
            "notes",
            "components",
            "scheduled_for",
            "scheduled_until",
            "started_at",
            "completed_at",
            "created_by",
            "created_at",
            "updated_at",
            "updates",
        ]

    @extend_schema_field(ComponentRefSerializer(many=True))
    def get_components(self, obj: ScheduledMaintenance) -> list[dict[str, object]]:
        return [
            {"id": ci.pk, "name": ci.name}
            for ci in sorted(obj.components.all(), key=lambda c: (c.name, c.pk))
        ]


def _components() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        max_length=MAX_COMPONENTS,
        help_text="ids of business services (the status page's components)",
    )


class MaintenanceCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=MAX_NAME)
    components = _components()
    scheduled_for = serializers.DateTimeField()
    scheduled_until = serializers.DateTimeField()
    notes = serializers.CharField(max_length=MAX_BODY, required=False, allow_blank=True)
    message = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        allow_blank=True,
        help_text="the first public update (default: the notes)",
    )


class MaintenanceChangeSerializer(InputSerializer):
    name = serializers.CharField(max_length=MAX_NAME, required=False)
    components = _components()
    scheduled_for = serializers.DateTimeField(required=False)
    scheduled_until = serializers.DateTimeField(required=False)
    notes = serializers.CharField(max_length=MAX_BODY, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=MaintenanceStatus.choices, required=False)
    message = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        allow_blank=True,
        help_text="a public update with the change (default: a sentence for the new status)",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["components"].required = False

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if not attrs:
            raise serializers.ValidationError({"detail": "nothing to change"})
        return attrs
