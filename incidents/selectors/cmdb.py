"""CMDB impact analysis in SQL.

An outage of a CI reaches the CI itself and every CI that depends on it, directly or
transitively. Both questions below are one recursive CTE; ``UNION`` (not ``UNION ALL``) makes
each CI appear once and stops cycles, on SQLite and PostgreSQL alike. Seeds are cast to BIGINT
because PostgreSQL types a recursive CTE's column from its first term, and ids are bigint.

The SQL is assembled from table names taken from the models' metadata and placeholders only;
every value travels as a query parameter (ruff's S608 is silenced for this file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import BigIntegerField, Func

from ..models import OPEN_INCIDENT_STATES, CIDependency, ConfigurationItem, Incident

_CI = ConfigurationItem._meta.db_table
_DEP = CIDependency._meta.db_table
_INC = Incident._meta.db_table

# Walk provider -> consumer from one CI: everything its outage reaches.
_DOWNSTREAM = f"""
WITH RECURSIVE reached(id) AS (
    SELECT CAST(%s AS BIGINT)
    UNION
    SELECT d.consumer_id FROM {_DEP} d JOIN reached r ON d.provider_id = r.id
)
"""


@dataclass(frozen=True)
class AffectedCI:
    id: int
    name: str
    kind: str
    user_count: int


@dataclass(frozen=True)
class Impact:
    affected_users: int
    affected_cis: list[AffectedCI]
    affected_ci_count: int


def affected_users(ci_id: int) -> int:
    """Sum of ``user_count`` over the CI and all CIs that depend on it, each counted once."""
    with connection.cursor() as cursor:
        cursor.execute(
            _DOWNSTREAM + f"SELECT COALESCE(SUM(ci.user_count), 0) FROM {_CI} ci "
            "JOIN reached r ON r.id = ci.id",
            [ci_id],
        )
        return int(cursor.fetchone()[0])


def impact(ci_id: int, *, limit: int | None = None) -> Impact:
    """The affected users and the affected CIs (the CI itself first, then by name).

    With ``limit``, only the first ``limit`` CIs are listed (a page shows 100, not the 100,000
    a core network reaches); the totals still count all of them.
    """
    listing = (
        _DOWNSTREAM + f"SELECT ci.id, ci.name, ci.kind, ci.user_count FROM {_CI} ci "
        "JOIN reached r ON r.id = ci.id "
        "ORDER BY CASE WHEN ci.id = %s THEN 0 ELSE 1 END, ci.name"
    )
    with connection.cursor() as cursor:
        if limit is None:
            cursor.execute(listing, [ci_id, ci_id])
            rows = [AffectedCI(*row) for row in cursor.fetchall()]
            users, count = sum(r.user_count for r in rows), len(rows)
        else:
            cursor.execute(
                _DOWNSTREAM + f"SELECT COALESCE(SUM(ci.user_count), 0), COUNT(*) FROM {_CI} ci "
                "JOIN reached r ON r.id = ci.id",
                [ci_id],
            )
            users, count = cursor.fetchone()
            cursor.execute(listing + " LIMIT %s", [ci_id, ci_id, limit])
            rows = [AffectedCI(*row) for row in cursor.fetchall()]
    return Impact(affected_users=int(users), affected_cis=rows, affected_ci_count=int(count))


# Every CI reached from each seed (``root``): ``UNION`` keeps each CI once per root and stops
# cycles, while the roots share one recursive walk.
_REACH_BY_ROOT = f"""reach(root, id) AS (
                SELECT id, id FROM seed
                UNION
                SELECT r.root, d.consumer_id FROM {_DEP} d JOIN reach r ON d.provider_id = r.id
            )"""


def _seeds(ids: list[int]) -> str:
    """A ``seed(id)`` CTE of ``ids`` (placeholders only). ``VALUES`` rather than a chain of
    ``SELECT … UNION``: SQLite refuses a compound SELECT of more than 500 terms."""
    return "seed(id) AS (VALUES " + ", ".join(["(CAST(%s AS BIGINT))"] * len(ids)) + ")"


def open_incident_cis_reaching(ci_ids: Iterable[int]) -> list[int]:
    """Affected CIs of open incidents whose impact includes any of ``ci_ids``.

    A CI's impact changes when something it reaches changes, so walk consumer -> provider from
    the changed CIs and keep those that open incidents point at.
    """
    ids = sorted(set(ci_ids))
    if not ids:
        return []
    states = ", ".join(["%s"] * len(OPEN_INCIDENT_STATES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE {_seeds(ids)},
            upstream(id) AS (
                SELECT id FROM seed
                UNION
                SELECT d.provider_id FROM {_DEP} d JOIN upstream u ON d.consumer_id = u.id
            )
            SELECT DISTINCT i.affected_ci_id FROM {_INC} i
            JOIN upstream u ON u.id = i.affected_ci_id
            WHERE i.state IN ({states})
            """,
            [*ids, *[str(s) for s in OPEN_INCIDENT_STATES]],
        )
        return [row[0] for row in cursor.fetchall()]


def affected_users_by_ci(ci_ids: Iterable[int]) -> dict[int, int]:
    """``affected_users`` of each of ``ci_ids`` at once: one statement for a whole CMDB edit.

    The walk carries its starting CI (``root``), so ``UNION`` keeps each CI once per root (and
    stops cycles) while the roots share one recursive CTE. A missing CI is left out.
    """
    ids = sorted(set(ci_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE {_seeds(ids)},
            {_REACH_BY_ROOT}
            SELECT r.root, COALESCE(SUM(ci.user_count), 0) FROM reach r
            JOIN {_CI} ci ON ci.id = r.id
            GROUP BY r.root
            """,
            ids,
        )
        return {int(root): int(users) for root, users in cursor.fetchall()}


def reached_of_kind(ci_ids: Iterable[int], kind: str) -> dict[int, set[int]]:
    """For each of ``ci_ids``, the CIs of ``kind`` its outage reaches (itself included): the
    status page's question "which business services does this MI take down?", one statement
    for all the MIs a page shows. A CI that reaches none is left out."""
    ids = sorted(set(ci_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE {_seeds(ids)},
            {_REACH_BY_ROOT}
            SELECT r.root, r.id FROM reach r JOIN {_CI} ci ON ci.id = r.id WHERE ci.kind = %s
            """,
            [*ids, kind],
        )
        reached: dict[int, set[int]] = {}
        for root, ci_id in cursor.fetchall():
            reached.setdefault(int(root), set()).add(int(ci_id))
        return reached


class ReachedFrom(Func):
    """The ids of the CIs an outage of one CI reaches (itself and every CI depending on it,
    transitively), as a subquery for ``__in``: the same walk as ``affected_users``, but seeded
    by an expression (an ``OuterRef`` to a row's CI), so one statement answers it for every row
    of the outer query. Parenthesised here because ``__in`` does not wrap an expression."""

    template = (
        f"(WITH RECURSIVE reached(id) AS (SELECT CAST(%(expressions)s AS BIGINT) UNION "
        f"SELECT d.consumer_id FROM {_DEP} d JOIN reached r ON d.provider_id = r.id) "
        "SELECT id FROM reached)"
    )
    output_field = BigIntegerField()
