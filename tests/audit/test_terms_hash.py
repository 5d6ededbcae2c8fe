"""Search terms, tag filters and attempted usernames are recorded as keyed HMACs: a reader of the audit table (or a
backup or export of it) cannot reverse them with a dictionary of names, while the privacy officer, through the
console that holds the keys, can still answer "did anyone search for this name?" — across key rotations."""

import hashlib
import hmac

import pytest

from audit import review
from audit.models import AuditEvent
from audit.services import terms_hash, terms_hash_candidates
from cases import selectors
from cases.text import normalize
from tsunagu.errors import Forbidden

K1 = ("k1", "first-audit-key-0123456789abcdefghijklmnop")
K2 = ("k2", "second-audit-key-0123456789abcdefghijklmno")
NAMES = ["山田 太郎", "ヤマダ タロウ", "やまだ", "佐藤 花子", "サトウ ハナコ", "SJ-2026-0001"]


def _search(cast, who: str, q: str = "", tag: str = "") -> AuditEvent:
    selectors.client_list(actor=cast.actor(who), q=q, tag=tag)
    return AuditEvent.objects.filter(action__in=["client.search", "client.list"]).latest("seq")


def test_a_search_is_recorded_under_the_current_key_not_as_plain_sha256(cast, settings):
    settings.AUDIT_HMAC_KEYS = [K2, K1]
    event = _search(cast, "alice", q="やまだ")
    stored = event.details["q_hash"]
    key = normalize("やまだ")
    assert stored != hashlib.sha256(key.encode()).hexdigest()
    assert stored == "k2:" + hmac.new(K2[1].encode(), key.encode(), hashlib.sha256).hexdigest()
    assert "やまだ" not in str(event.details) and key not in str(event.details)


def test_a_dictionary_of_names_reverses_nothing_without_the_key(cast, settings):
    settings.AUDIT_HMAC_KEYS = [K1]
    recorded = {_search(cast, "alice", q=name).details["q_hash"] for name in NAMES}
    recorded.add(_search(cast, "alice", tag="高齢").details["filters"]["tag_hash"])
    # What a reader of the table could compute: every name (raw and normalised) under plain SHA-256, and under
    # a guessed key (the Django SECRET_KEY) — none matches a stored value, with or without the key-id prefix.
    guesses = set()
    for word in [*NAMES, "高齢"]:
        for text in {word, normalize(word)}:
            guesses.add(hashlib.sha256(text.encode()).hexdigest())
            guesses.add(hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest())
    assert not {h.partition(":")[2] for h in recorded} & guesses
    assert not recorded & guesses


def test_rotation_keeps_older_hashes_recognisable(cast, settings):
    settings.AUDIT_HMAC_KEYS = [K1]
    before = _search(cast, "alice", q="やまだ").details["q_hash"]
    settings.AUDIT_HMAC_KEYS = [K2, K1]  # rotated: k2 is current, k1 still held
    after = _search(cast, "alice", q="ヤマダ").details["q_hash"]
    assert before.startswith("k1:") and after.startswith("k2:") and before != after
    assert {before, after} <= terms_hash_candidates([normalize("やまだ")])
    settings.AUDIT_HMAC_KEYS = [K2]  # k1 retired: what it made can no longer be matched
    assert before not in terms_hash_candidates([normalize("やまだ")])


def test_terms_hash_uses_the_first_key(settings):
    settings.AUDIT_HMAC_KEYS = [K2, K1]
    assert terms_hash("x").startswith("k2:") and len(terms_hash("x")) == 3 + 64


def test_the_officer_finds_who_searched_for_a_name_across_rotation(cast, settings):
    settings.AUDIT_HMAC_KEYS = [K1]
    old = _search(cast, "alice", q="やまだ")
    _search(cast, "bob", q="さとう")  # someone else, another name
    settings.AUDIT_HMAC_KEYS = [K2, K1]
    new = _search(cast, "bob", q="ﾔﾏﾀﾞ")  # half-width katakana: the same normalised term
    tagged = _search(cast, "carol", tag="高齢")
    page = review.review_term_search(actor=cast.actor("penny"), terms=["やまだ", normalize("やまだ")])
    assert [e.seq for e in page.items] == [new.seq, old.seq]
    tag_page = review.review_term_search(actor=cast.actor("penny"), terms=["高齢"])
    assert [e.seq for e in tag_page.items] == [tagged.seq]
    # The officer's search is itself audited, without the term or anything derived from it.
    audited = AuditEvent.objects.filter(action="audit.term_search").order_by("seq")
    assert [e.details["count"] for e in audited] == [2, 1]
    for event in audited:
        text = str(event.details)
        assert "やまだ" not in text and "ヤマダ" not in text and "高齢" not in text
        assert not any(h.split(":")[-1] in text for h in terms_hash_candidates(["やまだ", "ヤマダ", "高齢"]))


def test_only_officers_search_terms(cast):
    with pytest.raises(Forbidden):
        review.review_term_search(actor=cast.actor("alice"), terms=["やまだ"])
    denied = AuditEvent.objects.filter(action="audit.term_search").latest("seq")
    assert denied.outcome == "denied" and denied.actor_username == "alice" and "やまだ" not in str(denied.details)


def test_failed_login_usernames_are_keyed_too(cast, settings, client):
    settings.AUDIT_HMAC_KEYS = [K1]
    client.post("/login/", {"username": "yamada.taro", "password": "wrong"})
    event = AuditEvent.objects.filter(action="auth.login_failed").latest("seq")
    assert event.details["username_hash"] == terms_hash("yamada.taro")
    assert event.details["username_hash"] != hashlib.sha256(b"yamada.taro").hexdigest()
    page = review.review_term_search(actor=cast.actor("penny"), terms=["yamada.taro"])
    assert [e.seq for e in page.items] == [event.seq]
