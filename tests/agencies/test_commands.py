"""Provisioning commands (PRODUCT §7): effects, and clear one-line errors that create nothing."""

import io
import subprocess
import sys

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from agencies.models import Agency, ApiKey, Staff
from agencies.services import apikey_authenticate
from audit.models import AuditEvent

pytestmark = pytest.mark.empty_db  # provisioning starts from an empty installation


def run(*args, stdin=None):
    out = io.StringIO()
    saved = sys.stdin
    sys.stdin = stdin if stdin is not None else io.StringIO("")
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


@pytest.fixture
def agency(db):
    run("add_agency", "fukushi", "--name", "三条市 福祉課", "--kind", "city_division")
    return Agency.objects.get(code="fukushi")


def test_add_agency_creates_the_agency_and_its_group(agency):
    assert agency.name == "三条市 福祉課" and agency.kind == "city_division"
    assert agency.group.name == "agency:fukushi"
    event = AuditEvent.objects.get(action="agency.create")
    assert (event.channel, event.actor_username, event.target_id) == ("cli", "system", "fukushi")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fukushi", "--name", "重複", "--kind", "other"], "既に存在します"),
        (["new", "--name", "新しい課", "--kind", "ministry"], "種別が不正です"),
        (["bad code!", "--name", "x", "--kind", "other"], "コード"),
        (["blank", "--name", "  ", "--kind", "other"], "名称"),
    ],
)
def test_add_agency_errors(agency, args, message):
    before = Agency.objects.count()
    with pytest.raises(CommandError, match=message) as info:
        run("add_agency", *args)
    assert "\n" not in str(info.value)
    assert Agency.objects.count() == before


def test_add_staff_with_password_from_stdin(agency):
    out = run(
        "add_staff",
        "tanaka",
        "--agency",
        "fukushi",
        "--role",
        "supervisor",
        "--display-name",
        "田中 美咲",
        "--password-stdin",
        stdin=io.StringIO("a-long-enough-passphrase\n"),
    )
    assert "tanaka" in out
    staff = Staff.objects.get(user__username="tanaka")
    assert (staff.role, staff.display_name, staff.is_privacy_officer) == ("supervisor", "田中 美咲", False)
    assert authenticate(username="tanaka", password="a-long-enough-passphrase") == staff.user
    assert staff.user.groups.filter(pk=agency.group_id).exists()


def test_add_staff_privacy_officer_without_password_cannot_log_in(agency):
    run("add_staff", "kansa", "--agency", "fukushi", "--role", "caseworker", "--privacy-officer")
    staff = Staff.objects.get(user__username="kansa")
    assert staff.is_privacy_officer and not staff.user.has_usable_password()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["x1", "--agency", "nowhere", "--role", "caseworker"], None, "存在しません"),
        (["x2", "--agency", "fukushi", "--role", "boss"], None, "役割が不正です"),
        (["x3", "--agency", "fukushi", "--role", "caseworker", "--password-stdin"], "", "パスワードがありません"),
        (["x4", "--agency", "fukushi", "--role", "caseworker", "--password-stdin"], "123\n", "パスワード|password"),
    ],
)
def test_add_staff_errors_create_nothing(agency, args, stdin, message):
    users = get_user_model().objects.count()
    with pytest.raises(CommandError, match=message):
        run("add_staff", *args, stdin=io.StringIO(stdin) if stdin is not None else None)
    assert get_user_model().objects.count() == users


def test_add_staff_duplicate_username(agency):
    run("add_staff", "dup", "--agency", "fukushi", "--role", "caseworker")
    with pytest.raises(CommandError, match="既に"):
        run("add_staff", "dup", "--agency", "fukushi", "--role", "caseworker")
    assert Staff.objects.filter(user__username="dup").count() == 1


def test_issue_api_key_prints_the_key_alone_on_the_last_line(agency):
    run("add_staff", "sync", "--agency", "fukushi", "--role", "integration")
    out = run("issue_api_key", "sync", "--name", "社協システム連携", "--expires-in-days", "30")
    key_line = out.rstrip("\n").splitlines()[-1]
    assert key_line.startswith("tsg_") and " " not in key_line
    key = apikey_authenticate(key_line)
    assert key.name == "社協システム連携" and key.expires_at is not None
    stored = ApiKey.objects.get()
    assert key_line not in (stored.secret_hash, stored.prefix)  # only a hash is kept
    assert AuditEvent.objects.filter(action="apikey.issue", channel="cli").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost", "--name", "x"], "存在しません"),
        (["sync", "--name", "x", "--expires-in-days", "0"], "有効期限"),
        (["sync", "--name", " "], "名前"),
    ],
)
def test_issue_api_key_errors(agency, args, message):
    run("add_staff", "sync", "--agency", "fukushi", "--role", "integration")
    with pytest.raises(CommandError, match=message):
        run("issue_api_key", *args)
    assert ApiKey.objects.count() == 0


def test_commands_fail_with_non_zero_exit_from_the_shell(agency, capfd):
    result = subprocess.run(
        [sys.executable, "manage.py", "add_agency", "x", "--name", "y", "--kind", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "種別が不正です" in result.stderr
    assert "Traceback" not in result.stderr
