"""Shared expectations for the API tests: who sees the standing cast's client, and at which level."""

from audit.models import AuditEvent

VISIBLE = {"alice": "manage", "sam": "manage", "ada": "manage", "bob": "read", "carol": "append"}
INVISIBLE = ["charlie", "erin", "rick", "penny"]
EVERYONE = [*VISIBLE, *INVISIBLE]
APPENDERS = ["alice", "sam", "ada", "carol"]
SHARE_MANAGERS = ["sam", "ada"]

PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}

CLIENT_FIELDS = {
    "id",
    "case_number",
    "name",
    "name_kana",
    "birth_date",
    "address",
    "phone",
    "tags",
    "status",
    "owner_agency",
    "my_level",
    "updated_at",
}
ENTRY_FIELDS = {
    "id",
    "kind",
    "occurred_at",
    "recorded_at",
    "body",
    "author",
    "agency",
    "corrects",
    "corrected_by",
    "attachments",
}
SHARE_FIELDS = {
    "id",
    "agency",
    "level",
    "basis",
    "basis_note",
    "granted_by",
    "granted_at",
    "expires_at",
    "revoked_at",
}


def last_seq() -> int:
    last = AuditEvent.objects.order_by("-seq").first()
    return last.seq if last else 0


def events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["type"].startswith("urn:tsunagu:problem:")
    assert body["title"] and body["detail"]
    if status == 400:
        assert isinstance(body["errors"], dict) and body["errors"]
        assert all(isinstance(m, list) and all(isinstance(x, str) for x in m) for m in body["errors"].values())
    else:
        assert set(body) == PROBLEM_FIELDS
    assert "Traceback" not in response.content.decode()
    return body
