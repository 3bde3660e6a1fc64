"""The review's REST API: the document, its edits with versions, submit and publish, comments,
action items, the Markdown download and the draft; each endpoint refused to whoever may not, and
odd input a 400 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from comms.models import StakeholderUpdate
from incidents.api.schema import ERROR_SCHEMA
from incidents.models import MajorIncident, TimelineKind
from incidents.services import record
from pir import services
from pir.models import PostIncidentReview, ReviewComment, ReviewStatus
from tests.incidents.mi_fixtures import declare
from tests.pir.conftest import resolve

pytestmark = pytest.mark.django_db

DONE = {"summary": "Checkout failed for 40 minutes.", "root_causes": "A bad config push."}


def url(mi: MajorIncident, rest: str = "") -> str:
    return f"/api/major-incidents/{mi.number}/pir/{rest}"


# (method, path under pir/, body) — every endpoint; writes marked.
READS = [("get", "", None), ("get", "export.md", None), ("get", "comments/", None),
         ("get", "action-items/", None)]  # fmt: skip
WRITES = [
    ("patch", "", {"summary": "x"}),
    ("post", "submit/", None),
    ("post", "publish/", None),
    ("post", "comments/", {"body": "hello"}),
    ("post", "action-items/", {"title": "Add a canary"}),
    ("post", "draft/", {}),
]


def call(client: APIClient, method: str, path: str, body: Any = None) -> Any:
    return (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )


def test_every_endpoint_needs_a_token(review: PostIncidentReview, api: APIClient) -> None:
    mi = review.major_incident
    for method, rest, body in [*READS, *WRITES, ("patch", "action-items/1/", {"status": "done"})]:
        response = call(api, method, url(mi, rest), body)
        assert response.status_code == 401, (method, rest)


def test_an_outsider_is_refused_everything(
    review: PostIncidentReview, oscar_api: APIClient
) -> None:
    mi = review.major_incident
    for method, rest, body in [*READS, *WRITES]:
        response = call(oscar_api, method, url(mi, rest), body)
        assert response.status_code == 403, (method, rest, response.content)


def test_a_technician_outside_the_team_reads_but_may_not_write(
    review: PostIncidentReview, tina_api: APIClient, alice: Any
) -> None:
    mi = review.major_incident
    item = services.add_action_item(review=review, actor=alice, fields={"title": "Canary"})
    for method, rest, body in READS:
        assert call(tina_api, method, url(mi, rest), body).status_code == 200, rest
    for method, rest, body in [*WRITES, ("patch", f"action-items/{item.pk}/", {"status": "done"})]:
        response = call(tina_api, method, url(mi, rest), body)
        assert response.status_code == 403, (method, rest, response.content)
        assert response.json()["detail"]


def test_an_unknown_mi_is_a_404(review: PostIncidentReview, alice_api: APIClient) -> None:
    for method, rest, body in [*READS, *WRITES]:
        response = call(alice_api, method, f"/api/major-incidents/MI9999999/pir/{rest}", body)
        assert response.status_code == 404, (method, rest)


def test_an_mi_not_resolved_has_no_review_yet_a_404_saying_so(
    mi: MajorIncident, alice_api: APIClient
) -> None:
    response = alice_api.get(url(mi))
    assert response.status_code == 404
    assert "no post-incident review yet" in response.json()["detail"]


def test_the_document_has_every_part(
    review: PostIncidentReview, alice_api: APIClient, alice: Any, bob: Any
) -> None:
    services.add_comment(review=review, actor=bob, body="Looks right", section="summary")
    services.add_action_item(review=review, actor=bob, fields={"title": "Add a canary"})
    body = alice_api.get(url(review.major_incident)).json()
    assert body["status"] == "draft" and body["version"] == review.version
    assert body["major_incident"] == review.major_incident.number
    for name in ("summary", "impact", "root_causes", "supporting_information", "meeting",
                 "authors", "customers_affected", "links", "timeline", "drafted_by"):  # fmt: skip
        assert name in body, name
    assert body["comments_count"] == 1
    assert [i["title"] for i in body["action_items"]] == ["Add a canary"]
    assert {b["field"] for b in body["publish_blockers"]} == {"root_causes", "action_items"}
    assert body["timeline"] and body["timeline"][0]["kind"] == "declared"
    assert body["links"]["export"].endswith("/pir/export.md")


def test_patch_with_a_stale_version_is_a_409_with_the_current(
    review: PostIncidentReview, alice_api: APIClient
) -> None:
    mi = review.major_incident
    current = review.version
    ok = alice_api.patch(url(mi), {"summary": "one", "version": current}, format="json")
    assert ok.status_code == 200 and ok.json()["version"] == current + 1
    stale = alice_api.patch(url(mi), {"summary": "two", "version": current}, format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["current"]["version"] == current + 1 and body["version"]
    jsonschema.validate(body, ERROR_SCHEMA)  # the documented error shape
    assert alice_api.get(url(mi)).json()["summary"] == "one"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"summary": 5}, "summary"),
        ({"summary": "x" * 60_000}, "summary"),
        ({"summary": ["a"]}, "summary"),
        ({"customers_affected": "lots"}, "customers_affected"),
        ({"customers_affected": {"a": 1}}, "customers_affected"),
        ({"version": "3"}, "version"),
        ({"nope": 1}, "nope"),
        ({"authors": "usr_bob"}, "authors"),
        ({"post_publicly": "yes"}, "post_publicly"),
    ],
)
def test_odd_edits_are_a_400_naming_the_field(
    review: PostIncidentReview, alice_api: APIClient, body: dict[str, Any], field: str
) -> None:
    response = alice_api.patch(url(review.major_incident), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_odd_bodies_are_a_400_not_a_500(review: PostIncidentReview, alice_api: APIClient) -> None:
    mi = review.major_incident
    deep: Any = "x"
    for _ in range(200):
        deep = {"a": deep}
    for method, rest in (("patch", ""), ("post", "comments/"), ("post", "action-items/"),
                         ("post", "draft/")):  # fmt: skip
        for body in (deep, [1, 2], "text", {"body": {"a": 1}, "title": 7, "drafter": []}):
            response = call(alice_api, method, url(mi, rest), body)
            assert response.status_code == 400, (method, rest, body, response.content)
    huge = alice_api.post(url(mi, "comments/"), {"body": "x" * 20_000}, format="json")
    assert huge.status_code == 400 and "body" in huge.json()
    section = alice_api.post(url(mi, "comments/"), {"body": "ok", "section": "nope"}, format="json")
    assert section.status_code == 400 and "section" in section.json()
    item = alice_api.post(url(mi, "action-items/"), {"title": "t", "priority": 9}, format="json")
    assert item.status_code == 400 and "priority" in item.json()
    item = alice_api.post(
        url(mi, "action-items/"), {"title": "t", "due_date": "soon"}, format="json"
    )
    assert item.status_code == 400 and "due_date" in item.json()


def test_comments_and_action_items_round_trip(
    review: PostIncidentReview, as_user: Callable[[Any], APIClient], bob: Any
) -> None:
    client = as_user(bob)
    mi = review.major_incident
    made = client.post(url(mi, "comments/"), {"body": "Check the times", "section": "summary"},
                       format="json")  # fmt: skip
    assert made.status_code == 201 and made.json()["author"] == bob.username
    assert [c["body"] for c in client.get(url(mi, "comments/")).json()["results"]] == [
        "Check the times"
    ]
    item = client.post(
        url(mi, "action-items/"),
        {"title": "Add a canary", "kind": "detect", "owner": bob.username,
         "due_date": "2026-12-31", "priority": 2},
        format="json",
    )  # fmt: skip
    assert item.status_code == 201, item.content
    assert item.json()["owner"] == bob.username and item.json()["kind"] == "detect"
    changed = client.patch(url(mi, f"action-items/{item.json()['id']}/"), {"status": "in_progress"},
                           format="json")  # fmt: skip
    assert changed.status_code == 200 and changed.json()["status"] == "in_progress"
    listed = client.get(url(mi, "action-items/")).json()["results"]
    assert [i["status"] for i in listed] == ["in_progress"]


def test_another_mis_action_item_is_a_404(
    review: PostIncidentReview,
    alice: Any,
    alice_api: APIClient,
    make_incident: Callable[..., Any],
    committed: Any,
) -> None:
    other = resolve(declare(make_incident(actor=alice, priority=1), alice), alice, committed)
    theirs = services.add_action_item(review=other.pir, actor=alice, fields={"title": "Theirs"})
    response = alice_api.patch(
        url(review.major_incident, f"action-items/{theirs.pk}/"), {"status": "done"}, format="json"
    )
    assert response.status_code == 404


def test_publish_names_action_items_when_one_lacks_an_owner(
    review: PostIncidentReview, alice: Any, alice_api: APIClient, committed: Any
) -> None:
    mi = review.major_incident
    services.update_review(review=review, actor=alice, changes=DONE)
    item = services.add_action_item(
        review=review,
        actor=alice,
        fields={"title": "Canary", "due_date": "2026-12-31", "priority": 2},
    )
    blocked = alice_api.post(url(mi, "publish/"))
    assert blocked.status_code == 400 and "action_items" in blocked.json()
    services.update_action_item(item=item, actor=alice, fields={"owner": alice.username})
    with committed():
        published = alice_api.post(url(mi, "publish/"))
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert StakeholderUpdate.objects.filter(major_incident=mi, slot="pir_summary").exists()
    again = alice_api.patch(url(mi), {"summary": "later"}, format="json")
    assert again.status_code == 409


def test_submit_moves_a_draft_to_in_review_once(
    review: PostIncidentReview, as_user: Callable[[Any], APIClient], bob: Any
) -> None:
    client = as_user(bob)
    first = client.post(url(review.major_incident, "submit/"))
    assert first.status_code == 200 and first.json()["status"] == ReviewStatus.IN_REVIEW
    assert client.post(url(review.major_incident, "submit/")).status_code == 409


def test_a_team_technician_may_not_publish(
    review: PostIncidentReview, as_user: Callable[[Any], APIClient], bob: Any, alice: Any
) -> None:
    services.update_review(review=review, actor=alice, changes=DONE)
    response = as_user(bob).post(url(review.major_incident, "publish/"))
    assert response.status_code == 403


def test_the_export_is_a_markdown_download(
    review: PostIncidentReview, alice_api: APIClient
) -> None:
    response = alice_api.get(url(review.major_incident, "export.md"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.decode().startswith(f"# {review.title}")
    asked = alice_api.get(url(review.major_incident, "export.md"), HTTP_ACCEPT="text/markdown")
    assert asked.status_code == 200


def test_the_draft_is_a_proposal_not_saved(
    review: PostIncidentReview, alice_api: APIClient
) -> None:
    before = PostIncidentReview.objects.get(pk=review.pk)
    response = alice_api.post(url(review.major_incident, "draft/"), {"drafter": "template"},
                              format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["drafted_by"] == "template"
    assert set(body["sections"]) == {"summary", "detection", "resolution"}
    assert review.major_incident.number in body["sections"]["summary"]
    after = PostIncidentReview.objects.get(pk=review.pk)
    assert after.version == before.version and after.summary == before.summary
    bad = alice_api.post(url(review.major_incident, "draft/"), {"drafter": "gpt"}, format="json")
    assert bad.status_code == 400 and "drafter" in bad.json()


def _grow(review: PostIncidentReview, actor: Any, n: int) -> None:
    mi = review.major_incident
    for i in range(n):
        services.add_action_item(
            review=review, actor=actor, fields={"title": f"item {i}", "owner": actor.username}
        )
        ReviewComment.objects.create(review=review, author=actor, body=f"comment {i}")
        record(mi.incident, TimelineKind.NOTE,
               f"row {i}", actor=actor, major_incident=mi)  # fmt: skip


def _count(client: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_the_document(
    review: PostIncidentReview, alice: Any, alice_api: APIClient
) -> None:
    mi = review.major_incident
    paths = [url(mi), url(mi, "export.md"), url(mi, "comments/"), url(mi, "action-items/")]
    _grow(review, alice, 2)
    small = [_count(alice_api, p) for p in paths]
    _grow(review, alice, 20)
    assert [_count(alice_api, p) for p in paths] == small
