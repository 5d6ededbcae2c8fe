"""List cursors are opaque: a signed reference to the boundary row, no case data; anything else is a 400."""

import base64
import re

import pytest

from cases import selectors, services
from tests.api.conftest import issue_key
from tests.api.helpers import assert_problem
from tsunagu.errors import InvalidInput

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,512}$")


def _register(cast, n):
    alice = cast.actor("alice")
    return [
        services.client_create(
            actor=alice, name=f"秘密 花子{i:02d}", name_kana=f"ヒミツ ハナコ{chr(0x30A2 + i)}", birth_date="1950-01-01"
        )
        for i in range(n)
    ]


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


@pytest.fixture
def pages(cast):
    _register(cast, 6)
    first = selectors.client_list(actor=cast.actor("alice"), limit=3)
    second = selectors.client_list(actor=cast.actor("alice"), limit=3, cursor=first.next_cursor)
    return first, second


def test_a_cursor_is_a_url_safe_token_without_case_data(cast, pages):
    first, second = pages
    for token in (first.next_cursor, second.prev_cursor, second.next_cursor):
        assert TOKEN.match(token)
        raw = _raw(token)
        for client in [*first.items, *second.items]:
            for text in (client.name, client.name_kana, client.case_number):
                assert text.encode() not in raw
                assert text.split()[0].encode() not in raw
        assert "ヒミツ".encode() not in raw and b"\\u" not in raw  # not even JSON-escaped


def test_cursors_still_walk_forward_and_back(cast, pages):
    first, second = pages
    back = selectors.client_list(actor=cast.actor("alice"), limit=3, cursor=second.prev_cursor)
    assert [c.id for c in back.items] == [c.id for c in first.items]


def _tampered(token: str) -> list[str]:
    raw = bytearray(_raw(token))
    flipped = []
    for index in (0, 1, len(raw) // 2, len(raw) - 1):
        copy = bytearray(raw)
        copy[index] ^= 0x01
        flipped.append(base64.urlsafe_b64encode(bytes(copy)).decode().rstrip("="))
    return flipped


def test_a_tampered_cursor_is_bad_input(cast, pages):
    for token in _tampered(pages[0].next_cursor):
        with pytest.raises(InvalidInput) as info:
            selectors.client_list(actor=cast.actor("alice"), limit=3, cursor=token)
        assert set(info.value.errors) == {"cursor"}


@pytest.mark.parametrize(
    "legacy",
    [
        # the old format: the boundary row's フリガナ in base64 JSON, and with a NUL inside
        base64.urlsafe_b64encode('{"d":"n","k":["ヒミツ ハナコア","00000000-0000-0000-0000-000000000000"]}'.encode())
        .decode()
        .rstrip("="),
        base64.urlsafe_b64encode(b'{"d":"n","k":["\\u0000","x"]}').decode().rstrip("="),
        "A" * 513,
    ],
)
def test_a_forged_cursor_is_bad_input(cast, pages, legacy):
    with pytest.raises(InvalidInput) as info:
        selectors.client_list(actor=cast.actor("alice"), limit=3, cursor=legacy)
    assert set(info.value.errors) == {"cursor"}


def test_a_cursor_from_another_list_is_bad_input(cast, pages):
    timeline = selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id, limit=1)
    services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="note", body="二件目")
    timeline = selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id, limit=1)
    assert timeline.next_cursor
    with pytest.raises(InvalidInput):
        selectors.client_list(actor=cast.actor("alice"), limit=3, cursor=timeline.next_cursor)
    with pytest.raises(InvalidInput):
        selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id, cursor=pages[0].next_cursor)


def test_another_agencys_cursor_reveals_nothing(cast, pages):
    """Bob's agency does not see the boundary client: the cursor is refused exactly like garbage."""
    foreign = pages[0].next_cursor
    bob = issue_key(cast.users["bob"])[1]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bob}")
    refused = assert_problem(api.get("/api/v1/clients/", {"cursor": foreign}), 400)
    garbage = assert_problem(api.get("/api/v1/clients/", {"cursor": "garbage"}), 400)
    assert refused == garbage
    assert set(refused["errors"]) == {"cursor"}


def test_a_stale_cursor_is_bad_input(cast, pages):
    """The boundary row left the list (here: the status filter no longer matches): start again."""
    first = selectors.client_list(actor=cast.actor("alice"), limit=3, status="active")
    boundary = first.items[-1]
    services.client_update(actor=cast.actor("alice"), client_id=boundary.id, changes={"status": "closed"})
    with pytest.raises(InvalidInput) as info:
        selectors.client_list(actor=cast.actor("alice"), limit=3, status="active", cursor=first.next_cursor)
    assert set(info.value.errors) == {"cursor"}
