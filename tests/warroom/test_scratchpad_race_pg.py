"""Two processes saving the scratchpad at once on PostgreSQL: of two saves naming the same
version, exactly one wins, every round, the very first (no row yet) included.

``DATABASE_URL=postgres://… pytest tests/warroom/test_scratchpad_race_pg.py``. SQLite serialises
writers, so only PostgreSQL shows that the conditional UPDATE alone decides the race.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from incidents import services
from incidents.models import TimelineEntry
from tests.conftest import make_user
from tests.incidents.mi_fixtures import declare
from tests.incidents.test_mi_race_pg import _check_clean, _run_two_at_once
from warroom.models import Scratchpad, ScratchpadVersion

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 25

# Each process saves once per round, naming the round's version; both start a round together
# (a file barrier), so the two saves of a round overlap. It prints how many it won.
SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from incidents.models import MajorIncident
from warroom import services
connection.ensure_connection()
user = get_user_model().objects.get(username=os.environ["SAVER"])
mi = MajorIncident.objects.get(pk=int(os.environ["MI_ID"]))
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
barrier, me, wins = Path(os.environ["BARRIER_DIR"]), os.environ["ME"], 0
for k in range(int(os.environ["ROUNDS"])):
    (barrier / f"{k}-{me}").touch()
    while not all((barrier / f"{k}-{n}").exists() for n in ("0", "1")):
        if time.monotonic() > deadline:
            raise SystemExit(f"round {k}: the other process never came")
        time.sleep(0.0005)
    try:
        services.save_scratchpad(mi=mi, actor=user, text=f"{me}: round {k}", version=k)
        wins += 1
    except services.StaleScratchpad:
        pass
print(wins)
"""


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_two_saves_of_one_version_one_wins(tmp_path: Path) -> None:
    alice = make_user("usr_alice_johnson", "itsm_manager", staff=True)
    sam = make_user("usr_sam_admin", "super_admin", staff=True)
    mi = declare(services.create_incident(actor=alice, short_description="Checkout down"), alice)
    assert not Scratchpad.objects.exists()  # the first round races the row's creation too
    envs = [
        {"ME": str(n), "SAVER": user.username, "MI_ID": str(mi.pk), "ROUNDS": str(ROUNDS)}
        for n, user in enumerate((alice, sam))
    ]
    wins = _check_clean(_run_two_at_once(SCRIPT, envs, tmp_path))

    assert sum(wins) == ROUNDS, wins  # exactly one winner a round
    pad = Scratchpad.objects.get(major_incident=mi)
    assert pad.version == ROUNDS
    versions = list(
        ScratchpadVersion.objects.filter(major_incident=mi)
        .order_by("version")
        .values_list("version", "text")
    )
    assert [v for v, _ in versions] == list(range(1, ROUNDS + 1))
    # Each kept version is the text of the round's winner, and the pad is the last of them.
    assert all(text.endswith(f"round {v - 1}") for v, text in versions)
    assert pad.text == versions[-1][1]
    assert Scratchpad.objects.count() == 1
    assert TimelineEntry.objects.filter(data__has_key="scratchpad_version").count() == 1
