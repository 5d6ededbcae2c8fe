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
