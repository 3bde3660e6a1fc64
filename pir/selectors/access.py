"""Who may do what to a review, in the words of the MI's access (``incidents.selectors.can``):

- read it: whoever may see the MI (a technician outside the team reads, as in the war room);
- write it (sections, comments, action items): whoever may post to the MI's timeline (its
  team, ITSM managers and super admins) — a blameless review is written by the people who
  worked the incident;
- publish it, choose the public version, convert action items into work: whoever may manage the
  MI (its commander, ITSM managers, super admins).
"""

from __future__ import annotations

from incidents.models import MajorIncident
from incidents.selectors import can, ensure
from incidents.selectors.actors import Actor

from ..models import KpiReport, PostIncidentReview

READ, WRITE, RUN = "view", "post_timeline", "manage"


def _mi(review: PostIncidentReview | MajorIncident) -> MajorIncident:
    return review if isinstance(review, MajorIncident) else review.major_incident


def can_read(user: Actor | None, review: PostIncidentReview | MajorIncident) -> bool:
    return can(user, READ, _mi(review))


def can_write(user: Actor | None, review: PostIncidentReview | MajorIncident) -> bool:
    return can(user, WRITE, _mi(review))


def can_run(user: Actor | None, review: PostIncidentReview | MajorIncident) -> bool:
    return can(user, RUN, _mi(review))


def ensure_read(user: Actor | None, review: PostIncidentReview | MajorIncident) -> None:
    ensure(user, READ, _mi(review))


def ensure_write(user: Actor | None, review: PostIncidentReview | MajorIncident) -> None:
    ensure(user, WRITE, _mi(review))


def ensure_run(user: Actor | None, review: PostIncidentReview | MajorIncident) -> None:
    ensure(user, RUN, _mi(review))


def can_see_kpis(user: Actor | None) -> bool:
    """The KPI dashboard, the metrics API and the monthly report are the managers'."""
    return can(user, "view", KpiReport)


def ensure_kpis(user: Actor | None) -> None:
    ensure(user, "view", KpiReport)
