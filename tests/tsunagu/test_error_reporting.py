"""Error reporting sends what locates an error and nothing about a client: checked on the envelopes a real SDK sends
to a local Sentry-compatible endpoint, for an error raised in a request that carried a client's name everywhere."""

import gzip
import http.server
import io
import json
import threading
import zlib
from urllib.parse import quote, urlencode
from wsgiref.util import setup_testing_defaults

import pytest
import sentry_sdk
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client, override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tsunagu import urls as project_urls
from tsunagu.error_reporting import REDACTED, scrub, sentry_options

NAME = "鳥籠ZQ11 カナリア"
MARK = "ZQ11"


class Boom(RuntimeError):
    pass


@csrf_exempt  # the request is the point here, not its form
def failing_view(request):
    client_name = request.POST.get("name") or request.GET.get("name")  # a local variable holding case data
    raise Boom(f"could not save {client_name}")


urlpatterns = [path("boom/", failing_view), *project_urls.urlpatterns]


class Collector(http.server.BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.received.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def reporting(endpoint):
    dsn = f"http://publickey@127.0.0.1:{endpoint.server_address[1]}/1"
    sentry_sdk.init(**sentry_options(dsn=dsn, environment="test", release="tsunagu@test"))
    yield endpoint
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)


def _items(envelope: bytes) -> list[dict]:
    """The JSON lines of an envelope (header, item headers, payloads)."""
    items = []
    for line in envelope.split(b"\n"):
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
    return items


def _wsgi_post(client: Client, url: str, body: bytes, headers: dict[str, str]) -> int:
    """A request the way gunicorn hands it over (through Django's WSGI handler, which the SDK instruments)."""
    path, _, query = url.partition("?")
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": quote(query, safe="=&"),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": cookie,
        "wsgi.input": io.BytesIO(body),
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    status = []
    # The handler closes "old" connections when a request starts, and the test's open transaction looks old (on
    # PostgreSQL it would be closed under the test); Django's own test client unhooks the same signal.
    request_started.disconnect(close_old_connections)
    try:
        get_wsgi_application()(environ, lambda s, h, exc_info=None: status.append(s))
    finally:
        request_started.connect(close_old_connections)
    return int(status[0].split()[0])  # the response is not closed: that would close the test's connection


@override_settings(ROOT_URLCONF=__name__)
def test_an_error_in_a_request_is_reported_without_case_data(cast, reporting):
    client = Client()
    client.force_login(cast.users["alice"])
    status = _wsgi_post(
        client,
        f"/boom/?name={NAME}&q={NAME}",
        urlencode({"name": NAME, "note": NAME}).encode(),
        {"X-Request-ID": "err-1", "X-Note": NAME.encode().hex(), "Referer": f"http://testserver/?q={MARK}"},
    )
    assert status == 500
    sentry_sdk.flush(timeout=10)
    assert reporting.received, "nothing reached the endpoint"
    text = b"\n".join(reporting.received).decode("utf-8", "replace")
    events = [item for envelope in reporting.received for item in _items(envelope) if item.get("exception")]
    (event,) = events
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "Boom"
    assert exception["value"] == REDACTED
    frames = exception["stacktrace"]["frames"]
    assert any(frame["function"] == "failing_view" for frame in frames)
    assert not any("vars" in frame for frame in frames)
    assert event["request"]["method"] == "POST" and event["request"]["url"] == "http://testserver/boom/"
    assert event["request"]["headers"] == {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(urlencode({"name": NAME, "note": NAME}))),
        "X-Request-Id": "err-1",
    }
    assert set(event.get("user") or {}) <= {"id"}
    assert event["environment"] == "test" and event["release"] == "tsunagu@test"
    assert MARK not in text and NAME not in text and NAME.encode().hex() not in text
    assert quote(NAME) not in text and quote(NAME).lower() not in text  # nor percent-encoded
    assert "sessionid" not in text and client.cookies["sessionid"].value not in text


def test_scrub_drops_what_an_integration_might_collect():
    event = {
        "request": {
            "method": "GET",
            "url": "https://tsunagu.example/clients/?q=x",
            "query_string": "q=x",
            "data": {"name": "x"},
            "cookies": {"sessionid": "s"},
            "env": {"REMOTE_ADDR": "10.0.0.1"},
            "headers": {"Cookie": "sessionid=s", "Authorization": "Bearer k", "Accept": "text/html"},
        },
        "user": {"id": 7, "username": "alice", "email": "a@example.org", "ip_address": "10.0.0.1"},
        "extra": {"client": "x"},
        "logentry": {"message": "failed for %s", "params": ["x"]},
        "breadcrumbs": {
            "values": [
                {"category": "query", "message": "SELECT … WHERE name = 'x'", "data": {"params": ["x"]}},
                {"type": "http", "category": "httplib", "data": {"url": "https://partner/?q=x"}},
                {"category": "django.request", "message": "Bad Request: /clients/"},
            ]
        },
    }
    scrubbed = scrub(event)
    assert scrubbed["request"] == {
        "method": "GET",
        "url": "https://tsunagu.example/clients/",
        "headers": {"Accept": "text/html"},
    }
    assert scrubbed["user"] == {"id": 7}
    assert "extra" not in scrubbed and "params" not in scrubbed["logentry"]
    sql, http, log = scrubbed["breadcrumbs"]["values"]
    assert sql == {"category": "query", "message": REDACTED}
    assert http == {"type": "http", "category": "httplib"}
    assert log["message"] == "Bad Request: /clients/"


def test_reporting_is_off_by_default(settings):
    assert settings.SENTRY_DSN == ""
    assert sentry_sdk.get_client().transport is None  # nothing is ever sent


def test_the_sdk_collects_no_personal_data(endpoint):
    options = sentry_options(dsn="http://k@127.0.0.1:9/1", environment="test", release=None)
    assert "send_default_pii" not in options  # unset is off (setting it is deprecated in sentry-sdk 2.75)
    sentry_sdk.init(**options)
    try:
        resolved = sentry_sdk.get_client().options
        assert resolved["include_local_variables"] is False and resolved["max_request_body_size"] == "never"
        assert resolved["data_collection"]["user_info"] is False
        assert resolved["event_scrubber"] is not None
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
