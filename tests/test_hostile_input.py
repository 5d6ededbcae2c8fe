"""Hostile input, everywhere: no 5xx, a clear 4xx for what can never be valid, and nothing changes.

The routes are enumerated from the URLconf, the browser's form fields from the pages themselves and the API's
query parameters and body fields from the OpenAPI schema, so a new route, form field or parameter is swept without
touching this file. Each sweep runs as the member of the cast who reaches deepest into that route (the owner's
supervisor for case pages, the privacy officer under /privacy/ and /api/v1/audit/, an operator under /admin/).

Values that can never be valid — a NUL byte (PostgreSQL text rejects it: the classic 500), bytes that are not
UTF-8 (a lone surrogate, an overlong encoding) — must be refused with a 4xx wherever they appear. Overlong values
and malformed ids must not cause a 5xx, and nothing at all may change (audit rows aside: refusals are audited).
"""

import hashlib
import json
import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from cases.models import Notification
from cases.outbox import outbox_relay
from tests.api.conftest import issue_key
from tests.api.helpers import assert_problem
from tests.mfa import sign_in
from tsunagu.middleware import NEVER_VALID as NEVER_VALID_MESSAGE

# Already percent-encoded, as they travel in a URL or in a form body.
NEVER_VALID = {
    "nul": "a%00b",
    "not_utf8": "%FF%FEx",
    "surrogate": "%ED%A0%80",  # U+D800 encoded as if it were a character: not UTF-8
    "overlong_nul": "%C0%80",  # NUL in an overlong encoding: not UTF-8
}
LONG = "x" * 30_000  # longer than any field accepts (the longest, an entry body, takes 20,000)
MALFORMED_IDS = {
    "word": "not-an-id",
    "zero": "0",
    "negative": "-1",
    "quote": quote("1' OR '1'='1"),
    "braces": "%7B" + "1" * 8 + "-1111-1111-1111-" + "1" * 12 + "%7D",
    "long": "9" * 5000,
    "dotdot": "..%2F..%2Fadmin",
}
# JSON values that no field accepts: the parser or the input serializer must refuse them.
JSON_NEVER_VALID = {
    "nul": "a\x00b",
    "surrogate": "\ud800",
    "long": LONG,
    "object": {"$ne": None},
}
DEEP = 100_000
# Body fields that name another object: a malformed id there is refused (400 or 404), never stored.
ID_FIELDS = {"corrects", "agency", "agencies", "client", "clients", "to", "attendees", "share", "entry"}

# Plausible values by field name, so that one hostile field is tried next to otherwise valid ones.
BASELINE = {
    "name": "鈴木 花子",
    "name_kana": "すずき はなこ",
    "birth_date": "1950-05-05",
    "kind": "visit",
    "body": "訪問した。",
    "agency": "soudan",
    "level": "read",
    "basis": "consent",
}

# Data that a refused request may still touch: the audit trail (refusals are audited), sessions and login
# bookkeeping, and "last used" stamps.
UNTRACKED_MODELS = {
    "audit.auditevent",
    "audit.auditexposure",
    "sessions.session",
    "agencies.loginthrottle",  # failed-login counters: a refused login attempt is counted by design
}
UNTRACKED_FIELDS = {"last_used_at", "last_login"}


def data_fingerprint() -> str:
    """A digest of every row of every model, but the untracked ones."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label_lower):
        if model._meta.label_lower in UNTRACKED_MODELS:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in UNTRACKED_FIELDS]
        rows = model._default_manager.order_by("pk").values_list(*fields)
        digest.update(f"{model._meta.label_lower}:{[tuple(map(str, r)) for r in rows]}".encode())
    return digest.hexdigest()


# --- the routes ----------------------------------------------------------------------------------------------


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _template(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + _template(entry.pattern)


def _template(pattern) -> str:
    """A route as ``clients/{client_id}/``: the parameters named, the rest literal."""
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern))
    if isinstance(pattern, RegexPattern):
        text = str(pattern).lstrip("^").rstrip("$")
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
        return "" if text == ".*" else text.replace("\\", "")
    raise AssertionError(f"unknown pattern type {pattern!r}")


ROUTES = sorted(set(_walk(get_resolver().url_patterns)))


def test_every_route_is_swept():
    # The enumeration sees the whole URLconf: browser, API, privacy console, admin.
    assert "" in ROUTES and "clients/{client_id}/entries/" in ROUTES
    assert "api/v1/clients/{id}/shares/{share_id}/" in ROUTES
    assert "privacy/users/{username}/" in ROUTES
    assert any(r.startswith("admin/") for r in ROUTES)
    assert len(ROUTES) > 60


# --- the world the sweeps run in -----------------------------------------------------------------------------


class World:
    def __init__(self, cast):
        outbox_relay()
        Notification.objects.update(read_at="2026-01-01T00:00:00Z")  # opening a page may mark notices read
        self.cast = cast
        operator = get_user_model().objects.create_superuser("operator", "op@example.org", "operator-password-1")
        self.web = {}
        for name in ("sam", "ada", "penny"):
            self.web[name] = sign_in(Client(raise_request_exception=False), cast.users[name])
        self.web["operator"] = sign_in(Client(raise_request_exception=False), operator)
        self.api = {}
        for name in ("sam", "penny"):
            plain = issue_key(cast.users[name])[1]
            self.api[name] = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {plain}")
        self.key_id = str(issue_key(cast.users["ada"])[0].id)
        self.valid = {
            "client_id": str(cast.client.id),
            "id": str(cast.client.id),
            "share_id": str(cast.shares["reader"].id),
            "key_id": self.key_id,
            "username": "alice",
            "flag_id": "00000000-0000-4000-8000-000000000001",
            "export_id": "00000000-0000-4000-8000-000000000002",
            "object_id": "1",
            "app_label": "cases",
            "url": "",
        }

    def who(self, route: str) -> str:
        if route.startswith("privacy/") or route.startswith("api/v1/audit/"):
            return "penny"
        if route.startswith("admin/"):
            return "operator"
        if route.startswith("agency/"):
            return "ada"
        return "sam"

    def client_for(self, route: str) -> Client:
        name = self.who(route)
        return self.api[name] if route.startswith("api/") else self.web[name]

    def url(self, route: str, **override) -> str:
        params = {name: self.valid.get(name, "x") for name in re.findall(r"{(\w+)}", route)}
        params.update(override)
        return "/" + route.format(**params)


@pytest.fixture
def world(cast):
    return World(cast)


class Failures(list):
    def check(self, what: str, response, *, refuse: bool) -> None:
        status = response.status_code
        if status >= 500 or (refuse and not 400 <= status < 500):
            self.append(f"{what} → {status}")

    def assert_none(self) -> None:
        assert not self, f"{len(self)} bad answers:\n" + "\n".join(self[:60])


def send(client: Client, method: str, url: str, body: str | None = None, content_type: str = ""):
    if body is None:
        return getattr(client, method.lower())(url)
    return getattr(client, method.lower())(url, data=body, content_type=content_type)


FORM = "application/x-www-form-urlencoded"


# --- path segments, query strings, bodies sent to every route ---------------------------------------------


@pytest.mark.django_db
def test_hostile_path_segments_on_every_route(world):
    before = data_fingerprint()
    failures = Failures()
    for route in ROUTES:
        client = world.client_for(route)
        for name in re.findall(r"{(\w+)}", route):
            values = {**{k: (v, True) for k, v in NEVER_VALID.items()}}
            values.update({k: (v, False) for k, v in MALFORMED_IDS.items()})
            for label, (value, refuse) in values.items():
                url = world.url(route, **{name: value})
                for method in ("GET", "POST", "PATCH", "DELETE") if route.startswith("api/") else ("GET", "POST"):
                    # Only a NUL can be refused outright: other bytes may name a page that does not exist (404).
                    failures.check(f"{method} {route} {name}={label}", send(client, method, url), refuse=refuse)
    failures.assert_none()
    assert data_fingerprint() == before


QUERY_NAMES = ("q", "tag", "status", "cursor", "page_size", "f_kind", "f_agency", "kind", "agency", "client")


@pytest.mark.django_db
def test_never_valid_bytes_in_any_query_string_or_form_body_are_refused(world):
    before = data_fingerprint()
    failures = Failures()
    for route in ROUTES:
        client = world.client_for(route)
        url = world.url(route)
        for label, value in NEVER_VALID.items():
            for field in QUERY_NAMES:
                failures.check(f"GET {route}?{field}={label}", client.get(f"{url}?{field}={value}"), refuse=True)
            failures.check(f"GET {route}?{label} as a name", client.get(f"{url}?{value}=1"), refuse=True)
            if not route.startswith("api/"):
                body = "&".join(f"{field}={value}" for field in QUERY_NAMES)
                failures.check(f"POST {route} form {label}", send(client, "POST", url, body, FORM), refuse=True)
        if not route.startswith("api/"):
            # The same through multipart, which Django decodes before any view sees it.
            response = client.post(url, data={field: "a\x00b" for field in QUERY_NAMES})
            failures.check(f"POST {route} multipart nul", response, refuse=True)
    failures.assert_none()
    assert data_fingerprint() == before


# --- every field of every form the browser is shown -----------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").upper()})
            self.forms[-1]["fields"] = {}
            return
        if not self.forms or not a.get("name"):
            if tag == "option" and self._select and self.forms:
                fields = self.forms[-1]["fields"]
                if "selected" in a or not fields.get(self._select):
                    fields[self._select] = a.get("value", "")
            return
        fields = self.forms[-1]["fields"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                fields.setdefault(a["name"], "")
            elif kind not in ("submit", "button", "file"):
                fields[a["name"]] = a.get("value") or ""
        elif tag == "textarea":
            fields.setdefault(a["name"], "")
        elif tag == "select":
            self._select = a["name"]
            fields.setdefault(a["name"], "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _crawl(world) -> list[tuple[str, str, str, dict]]:
    """Every form on every page the cast is shown: (who, method, action, fields with their shown values)."""
    found: dict[tuple, tuple] = {}
    for route in ROUTES:
        if route.startswith(("api/", "admin/")):
            continue
        url = world.url(route)
        for who in ("sam", "ada", "penny"):
            response = world.web[who].get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            parser = _Forms()
            parser.feed(response.content.decode())
            for form in parser.forms:
                action = urlsplit(form["action"]).path or url
                fields = {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken"}
                found.setdefault((form["method"], action, tuple(sorted(fields))), (who, form["method"], action, fields))
    return list(found.values())


@pytest.mark.django_db
def test_hostile_values_in_every_field_of_every_browser_form(world):
    forms = _crawl(world)
    actions = {action for _who, _m, action, _f in forms}
    assert "/login/" not in actions  # signed in, the login form is not shown; it is swept below
    forms.append(("anonymous", "POST", "/login/", {"username": "alice", "password": "x", "next": "/"}))
    # The crawl sees the client's entry form, the registration form, the sharing form, the key form, the
    # break-glass form and the privacy console's search forms.
    assert len(forms) >= 8, forms
    before = data_fingerprint()
    failures = Failures()
    for who, method, action, fields in forms:
        client = world.web.get(who) or Client(raise_request_exception=False)
        for field in fields:
            for label, value in [*NEVER_VALID.items(), ("long", LONG)]:
                body = (
                    "&".join(f"{quote(k)}={value if k == field else quote(v)}" for k, v in fields.items() if k != field)
                    + f"&{quote(field)}={value}"
                )
                if method == "GET":
                    response = client.get(f"{action}?{body}")
                else:
                    response = send(client, method, action, body, FORM)
                # A long value may be a search that finds nothing (200); bytes that are never valid are refused.
                failures.check(f"{who} {method} {action} {field}={label}", response, refuse=label != "long")
    failures.assert_none()
    assert data_fingerprint() == before


# --- every parameter and body field of every API operation ---------------------------------------------------


def _operations(world) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, query parameter names, body field names) from the OpenAPI schema."""
    schema = world.api["penny"].get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            body: list[str] = []
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                ref = content["schema"].get("$ref", "")
                body = list(components[ref.rsplit("/", 1)[-1]].get("properties", {})) if ref else []
            found.append((method.upper(), path.lstrip("/"), query, body))
    return found


@pytest.mark.django_db
def test_hostile_query_parameters_and_body_fields_on_every_api_operation(world):
    operations = _operations(world)
    assert {m for m, *_ in operations} >= {"GET", "POST", "PATCH", "DELETE"}
    before = data_fingerprint()
    failures = Failures()
    for method, path, query, body in operations:
        route = path
        client = world.client_for(route)
        url = world.url(route)
        for name in query:
            for label, value in NEVER_VALID.items():
                response = send(client, method, f"{url}?{name}={value}")
                failures.check(f"{method} {path}?{name}={label}", response, refuse=True)
            for label, value in (("long", quote(LONG)), *MALFORMED_IDS.items()):
                failures.check(
                    f"{method} {path}?{name}={label}", send(client, method, f"{url}?{name}={value}"), refuse=False
                )
        for name in body:
            baseline = {k: v for k, v in BASELINE.items() if k in body}
            for label, value in JSON_NEVER_VALID.items():
                payload = json.dumps({**baseline, name: value})
                response = send(client, method, url, payload, "application/json")
                failures.check(f"{method} {path} {name}={label}", response, refuse=True)
                if response.status_code < 500 and response.status_code >= 400:
                    assert_problem(response, response.status_code)
            if name in ID_FIELDS or name.endswith("_id"):
                for label, value in MALFORMED_IDS.items():
                    payload = json.dumps({**baseline, name: unquote(value)})
                    response = send(client, method, url, payload, "application/json")
                    failures.check(f"{method} {path} {name}={label}", response, refuse=True)
            deep = f'{{"{name}": ' + "[" * DEEP + "]" * DEEP + "}"
            failures.check(
                f"{method} {path} {name}=deep", send(client, method, url, deep, "application/json"), refuse=True
            )
        if method in ("POST", "PATCH"):
            for label, raw in (("not json", "{"), ("nul escape key", '{"a\\u0000": 1}'), ("bare nul", '"\\u0000"')):
                failures.check(
                    f"{method} {path} {label}", send(client, method, url, raw, "application/json"), refuse=True
                )
    failures.assert_none()
    assert data_fingerprint() == before


# --- the cases named in the issue, one by one ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("sam", "/?q=%00"),
        ("sam", "/?tag=%00"),
        ("sam", "/clients/{client_id}/?f_agency=%00"),
        ("penny", "/privacy/events/?username=a%00b"),
    ],
)
def test_a_nul_byte_in_a_browser_query_is_a_400(world, who, url):
    before = data_fingerprint()
    response = world.web[who].get(url.format(client_id=world.valid["client_id"]))
    assert response.status_code == 400
    assert data_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/privacy/users/a%00b/", "/clients/%FF/", "/clients/a%0Bb/"])
def test_a_path_no_page_can_have_is_the_not_found_page(world, url):
    before = data_fingerprint()
    response = world.web["penny"].get(url)
    assert response.status_code == 404
    assert "見つかりません" in response.content.decode()
    assert data_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/clients/?q=%00", "/api/v1/clients/?q=%FF"])
def test_never_valid_bytes_in_an_api_query_are_a_problem_400(world, url):
    body = assert_problem(world.api["sam"].get(url), 400)
    assert body["errors"] == {"q": [NEVER_VALID_MESSAGE]}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/clients/a%00b/", "/api/v1/clients/%0B/", "/api/v1/clients/%FF/timeline/"])
def test_a_path_no_resource_can_have_is_a_problem_404(world, url):
    assert_problem(world.api["sam"].get(url), 404)


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_413_problem(world, settings):
    before = data_fingerprint()
    huge = json.dumps({"name": "x" * (10 * 1024 * 1024), "name_kana": "ア", "birth_date": str(date(2000, 1, 1))})
    response = world.api["sam"].post("/api/v1/clients/", data=huge, content_type="application/json")
    assert_problem(response, 413)
    assert data_fingerprint() == before


@pytest.mark.django_db
def test_a_browser_form_over_the_upload_limit_is_a_413(world):
    before = data_fingerprint()
    response = world.web["sam"].post("/clients/new/", data="name=" + "x" * (10 * 1024 * 1024), content_type=FORM)
    assert response.status_code == 413
    assert data_fingerprint() == before


@pytest.mark.django_db
def test_json_nested_a_hundred_thousand_deep_is_a_400_problem(world):
    before = data_fingerprint()
    deep = "[" * DEEP + "]" * DEEP
    response = world.api["sam"].post("/api/v1/clients/", data=deep, content_type="application/json")
    assert_problem(response, 400)
    assert data_fingerprint() == before


@pytest.mark.django_db
def test_json_nested_moderately_deep_is_refused_before_any_serializer(world):
    deep = '{"tags": ' + "[" * 200 + "]" * 200 + "}"
    response = world.api["sam"].patch(
        f"/api/v1/clients/{world.valid['id']}/", data=deep, content_type="application/json"
    )
    assert_problem(response, 400)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["", "api/v1/clients/", "login/"])
def test_a_nul_byte_in_a_header_is_a_400(world, route):
    before = data_fingerprint()
    client = world.client_for(route) if route != "login/" else Client()
    response = client.get(world.url(route), HTTP_USER_AGENT="agent\x00", HTTP_IDEMPOTENCY_KEY="k\x00")
    assert response.status_code == 400
    assert data_fingerprint() == before
