"""The comms app's models, one module per area, re-exported here by name."""

from .inbound import (
    Alert,
    AlertGroup,
    AlertGroupStatus,
    InboundEvent,
    InboundKind,
    InboundMail,
    InboundOutcome,
    InboundSource,
    LabelRule,
    MailboxState,
    MailOutcome,
)
from .outbox import (
    RETRYABLE,
    AttemptOutcome,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
)
from .plan import (
    DRAFT_TYPES,
    ChannelName,
    CommunicationPlanEntry,
    MessageTemplate,
    SecurityScope,
    StakeholderGroup,
    Trigger,
    UpdateType,
)
from .slack import IncidentChannel
from .state import CommsState, ExternalRecord
from .status import (
    MaintenanceStatus,
    MaintenanceUpdate,
    ScheduledMaintenance,
    StatusSubscriber,
    UpstreamStatus,
)
from .updates import StakeholderUpdate, UpdateStatus

__all__ = [
    "DRAFT_TYPES",
    "RETRYABLE",
    "Alert",
    "AlertGroup",
    "AlertGroupStatus",
    "AttemptOutcome",
    "ChannelName",
    "CommsState",
    "CommunicationPlanEntry",
    "DeliveryAttempt",
    "ExternalRecord",
    "InboundEvent",
    "InboundKind",
    "InboundMail",
    "InboundOutcome",
    "InboundSource",
    "IncidentChannel",
    "LabelRule",
    "MailOutcome",
    "MailboxState",
    "MaintenanceStatus",
    "MaintenanceUpdate",
    "MessageTemplate",
    "OutboxMessage",
    "OutboxStatus",
    "ScheduledMaintenance",
    "SecurityScope",
    "StakeholderGroup",
    "StakeholderUpdate",
    "StatusSubscriber",
    "Trigger",
    "UpdateStatus",
    "UpdateType",
    "UpstreamStatus",
]
