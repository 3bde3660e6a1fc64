"""Two pollers on one mailbox at once (two beat processes), on PostgreSQL: every message is
handled once, the InboundMail row's unique constraints being the claim.

``DATABASE_URL=postgres://… pytest tests/comms/test_mailbox_race_pg.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from comms.models import InboundMail
from comms.services import mailbox
from incidents.models import Incident
from tests.comms.dovecot_peer import Dovecot, dovecot, mail  # noqa: F401
from tests.concurrency import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5
MESSAGES = 20


def _two_polls_at_once() -> list[dict[str, int]]:
    return at_once(lambda _: mailbox.poll_mailbox(), 2)


def test_two_polls_at_once_handle_each_message_once(
    dovecot: Dovecot,  # noqa: F811
    settings: Any,
) -> None:
    raced = 0
    for round_ in range(ROUNDS):
        folder = dovecot.new_folder()
        settings.MIM_IMAP_URL = dovecot.url(folder)
        ids = [f"<r{round_}m{n}@race.example>" for n in range(MESSAGES)]
        dovecot.append(
            folder, *(mail(f"Round {round_} mail {n}", message_id=i) for n, i in enumerate(ids))
        )

        results = _two_polls_at_once()

        totals = Counter[str]()
        for result in results:
            totals.update(result)
        assert totals["created"] == MESSAGES, results
        assert totals["created"] + totals["skipped"] <= 2 * MESSAGES
        assert InboundMail.objects.filter(message_id__in=ids).count() == MESSAGES
        titles = Incident.objects.filter(short_description__startswith=f"Round {round_} ")
        assert titles.count() == MESSAGES
        raced += totals["skipped"]
    # The two pollers did meet on the same messages (else this test proved nothing).
    assert raced > 0
