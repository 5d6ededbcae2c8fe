"""One vocabulary: every audit action and notice topic is declared once, by the app that owns it, with a label in
Japanese and in English; no code is spelled out where it is written or compared."""

import ast
from pathlib import Path

import pytest
from django.utils import translation

from agencies.actions import AgencyAction
from api.actions import ApiAction
from audit import actions
from audit.actions import AuditAction
from audit.services import SystemActor, audit_record
from cases.actions import CaseAction, Topic

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agencies", "api", "audit", "cases", "frontend", "tsunagu")
DECLARED = (CaseAction, AgencyAction, ApiAction, AuditAction)
# Codes that used to reach the log or the inbox with no label (the console showed the raw code).
ONCE_UNLABELLED = {
    "share.list",
    "staff.list",
    "staff.create",
    "apikey.list",
    "agency.create",
    "auth.api_key",
    "api.idempotent_replay",
    "webhook.register",
    "webhook.deliver",
    "webhook.disable",
    "audit.purge",
}


def _registered_codes() -> set[str]:
    # Probe codes registered by the audit tests (tests/audit/conftest.py) are not vocabulary.
    return {code for code in actions.registered() if not code.startswith("test.")}


def test_the_registry_is_exactly_the_apps_declarations():
    declared = {member.value for choices in DECLARED for member in choices}
    assert _registered_codes() == declared
    assert declared >= ONCE_UNLABELLED


@pytest.mark.parametrize("code", sorted({m.value for c in DECLARED for m in c}))
def test_every_action_has_a_japanese_and_an_english_label(code):
    with translation.override("ja"):
        japanese = actions.label(code)
    with translation.override("en"):
        english = actions.label(code)
    assert japanese and japanese != code
    assert english and english != japanese, f"{code}: no English translation of {japanese!r} in the .po"


@pytest.mark.parametrize("topic", list(Topic), ids=lambda t: t.value)
def test_every_topic_has_a_japanese_and_an_english_label(topic):
    with translation.override("ja"):
        japanese = str(topic.label)
    with translation.override("en"):
        english = str(topic.label)
    assert japanese and japanese != topic.value
    assert english and english != japanese, f"{topic.value}: no English translation of {japanese!r} in the .po"


def test_an_unregistered_action_is_refused(db):
    from audit.models import AuditEvent

    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match="not registered"):
        audit_record(actor=SystemActor(), action="client.peek")
    assert AuditEvent.objects.count() == before


def test_a_code_belongs_to_one_app():
    from django.core.exceptions import ImproperlyConfigured
    from django.db import models

    class Stolen(models.TextChoices):
        VIEW = "client.view", "閲覧"

    with pytest.raises(ImproperlyConfigured):
        actions.register(Stolen)


# --- no code spelled out where it is written or compared ----------------------------------------------------------


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path.name == "actions.py":
                continue
            yield path


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _literal_codes(path: Path, dotted: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        is_call = isinstance(node, ast.Call) and getattr(node.func, "attr", "") != "add_argument"  # argparse
        for keyword in node.keywords if is_call else []:
            if keyword.arg in ("action", "topic") and isinstance(keyword.value, ast.Constant | ast.JoinedStr):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {keyword.arg}={ast.unparse(keyword.value)}")
        if isinstance(node, ast.Constant) and node.value in dotted and id(node) not in docstrings:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    return found


def test_no_action_or_topic_code_is_written_as_a_string_literal():
    """Codes are written and compared through the enums (``CaseAction.CLIENT_VIEW``, ``Topic.SHARE_GRANT``):
    no ``action="..."`` anywhere, and no dotted code spelled out outside its app's ``actions.py``."""
    dotted = {code for code in _registered_codes() | set(Topic.values) if "." in code}
    found = [hit for path in _sources() for hit in _literal_codes(path, dotted)]
    assert not found, "spell these through the enums:\n" + "\n".join(found)


def test_the_inbox_names_a_break_glass_notice_in_words():
    """The in-app inbox used to show the raw topic code ``break_glass``. It shows the notice's own label."""
    from cases.notifications import topic_label

    with translation.override("ja"):
        assert topic_label("break_glass") == "緊急アクセスが行われました"
    with translation.override("en"):
        assert topic_label("break_glass") == "Emergency access was used"


# --- refusal reasons: every reason the code can record has a label ------------------------------------------------

# Where a refusal's reason is written: ``reason=...`` on any call, ``reason = ...`` (and conditional expressions of
# either), and the first argument of the exceptions that carry one to ``refusals_audited`` or the API's handler.
REASON_CARRIERS = {"Refusal", "Denied", "KeyRejected"}


def _reason_literals(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value else []
    if isinstance(node, ast.IfExp):
        return _reason_literals(node.body) + _reason_literals(node.orelse)
    if isinstance(node, ast.JoinedStr):  # f"throttled_{scope}": its constant prefix, checked below
        return ["<f-string>" + "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))]
    return []


def _written_reasons() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # A module's own helpers that take a ``reason`` by position (``_failed(request, username, "...")``).
        positions = {
            fn.name: [a.arg for a in fn.args.args].index("reason")
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and "reason" in [a.arg for a in fn.args.args]
        }
        for node in ast.walk(tree):
            values: list = []
            if isinstance(node, ast.Call):
                values += [k.value for k in node.keywords if k.arg == "reason"]
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in REASON_CARRIERS and node.args:
                    values.append(node.args[0])
                if name in positions and len(node.args) > positions[name]:
                    values.append(node.args[positions[name]])
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == "reason":
                        values.append(node.value)
                    elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        values += [
                            v
                            for t, v in zip(target.elts, node.value.elts, strict=False)
                            if isinstance(t, ast.Name) and t.id == "reason"
                        ]
            elif isinstance(node, ast.Return) and _in_reason_property(tree, node):
                values.append(node.value)
            for value in values:
                for literal in _reason_literals(value):
                    found.setdefault(literal, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _in_reason_property(tree, node) -> bool:
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name == "reason" and any(n is node for n in ast.walk(fn)):
            return True
    return False


def test_every_refusal_reason_the_code_writes_is_registered():
    """The console shows a refusal's reason by its label (``共有は解除済み``, never ``share_revoked``)."""
    from agencies.models import LoginThrottleScope

    written = _written_reasons()
    known = set(actions.registered_reasons())
    expanded = set()
    for literal in written:
        if literal.startswith("<f-string>"):
            prefix = literal.removeprefix("<f-string>")
            assert prefix == "throttled_", f"a reason built at run time: {literal} at {written[literal]}"
            expanded |= {f"{prefix}{scope}" for scope in LoginThrottleScope.values}
        else:
            expanded.add(literal)
    # The demo's break-glass request passes its reason text to the service (not a refusal reason).
    expanded = {r for r in expanded if r.isascii()}
    assert {"share_revoked", "no_share", "not_privacy_officer", "bad_credentials", "throttled_account"} <= expanded
    missing = sorted(expanded - known)
    assert not missing, "register these reasons with a label:\n" + "\n".join(f"{r}: {written.get(r)}" for r in missing)


@pytest.mark.parametrize("code", sorted(actions.registered_reasons()))
def test_every_reason_has_a_japanese_and_an_english_label(code):
    with translation.override("ja"):
        japanese = actions.reason_label(code)
    with translation.override("en"):
        english = actions.reason_label(code)
    assert japanese and japanese != code
    assert english and english != japanese and english != code, f"{code}: no English for {japanese!r} in the .po"


def test_every_flag_summary_has_a_japanese_and_an_english_wording():
    """Flag summaries are stored as a code and parameters and worded when read, in the reader's language."""
    from audit.flag_summaries import SummaryCode, render

    params = {
        "user": "alice",
        "agency": "fukushi",
        "day": "2026-11-24",
        "start": 8,
        "end": 19,
        "hour": "2026-11-24T12:00:00+00:00",
        "count": 31,
        "threshold": 30,
        "minutes": 10,
        "ip": "203.0.113.9",
        "clients": ["00000000-0000-0000-0000-000000000001"],
        "users": ["rick"],
        "hours": 24,
        "n": 3,
    }
    for code in SummaryCode:
        with translation.override("ja"):
            japanese = render(code, params)
            label_ja = str(code.label)
        with translation.override("en"):
            english = render(code, params)
            label_en = str(code.label)
        assert japanese and english and english != japanese, code
        assert label_en != label_ja, code
        assert not any("\u3040" <= ch <= "\u30ff" for ch in english), f"{code}: Japanese left in {english!r}"


def test_every_action_and_topic_label_differs_from_its_code_in_both_languages():
    """The whole registry at once, including codes registered after this file was written."""
    codes = _registered_codes()
    for language in ("ja", "en"):
        with translation.override(language):
            labels = actions.registered()
            for code in codes:
                assert labels[code] and labels[code] != code, (language, code)
            for topic in Topic:
                assert str(topic.label) != topic.value, (language, topic)
    with translation.override("ja"):
        japanese = {code: actions.label(code) for code in codes} | {t.value: str(t.label) for t in Topic}
    with translation.override("en"):
        english = {code: actions.label(code) for code in codes} | {t.value: str(t.label) for t in Topic}
    untranslated = sorted(code for code in japanese if japanese[code] == english[code])
    assert not untranslated, f"no English label: {untranslated}"
