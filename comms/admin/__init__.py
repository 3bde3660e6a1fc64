"""The Django admin of the comms app: one module per area, registered on import.

- ``plan``: stakeholder groups, the communication plan and the message templates, which ITSM
  managers keep (super admins also delete);
- ``outbox``: the outbox with its delivery attempts, the channels' on/off state and "Retry now";
- ``inbound``: monitoring sources (super admins), label rules (ITSM managers), and the
  payloads and alert groups they made, read-only;
- ``mail``: mail in's records (each message read, each folder's read position), read-only;
- ``records``: stakeholder updates, Slack channels, the communication clock and providers' ids,
  the system's records, read-only here;
- ``status``: scheduled maintenance (through its service) and the status page's subscribers.
"""

from . import inbound, mail, outbox, plan, records, status

__all__ = ["inbound", "mail", "outbox", "plan", "records", "status"]
