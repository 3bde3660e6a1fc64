"""The comms app's models, one module per area, re-exported here by name."""

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
from .updates import StakeholderUpdate, UpdateStatus

__all__ = [
    "DRAFT_TYPES",
    "RETRYABLE",
    "AttemptOutcome",
    "ChannelName",
    "CommsState",
    "CommunicationPlanEntry",
    "DeliveryAttempt",
    "ExternalRecord",
    "IncidentChannel",
    "MessageTemplate",
    "OutboxMessage",
    "OutboxStatus",
    "SecurityScope",
    "StakeholderGroup",
    "StakeholderUpdate",
    "Trigger",
    "UpdateStatus",
    "UpdateType",
]
