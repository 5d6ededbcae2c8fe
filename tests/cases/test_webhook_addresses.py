"""Webhook endpoints may not point at internal addresses (SSRF): loopback, private, link-local, multicast,
unspecified and other non-global addresses are refused at registration, in every spelling, and again at delivery
against the address the name resolves to then (DNS rebinding). Delivery connects to the very address it checked,
with the endpoint's own Host (and TLS server name). ``WEBHOOK_ALLOWED_NETWORKS`` lets an on-premises partner's
private range through, explicitly.

No test here sends traffic anywhere but 127.0.0.1: names are resolved by a stand-in resolver."""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agencies.actors import Actor
from cases import services, webhooks
from cases.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from cases.outbox import outbox_relay
from cases.webhooks import webhook_attempt, webhook_register, webhooks_due
from tsunagu.errors import InvalidInput

INTERNAL = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2002:a00:1::1]/hook",
    "https://[::]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://[fd00::1]/hook",
    "https://0.0.0.0/hook",
    "https://0/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://224.0.0.1/hook",
    "https://[ff02::1]/hook",
    "https://255.255.255.255/hook",
]


def resolver(mapping):
    """A stand-in for getaddrinfo: ``{host: [address, ...]}``; other names do not resolve."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in mapping[host]
        ]

    return getaddrinfo


@pytest.fixture
def no_dns(monkeypatch):
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver({"localhost": ["127.0.0.1", "::1"]}))


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_at_registration(cast, settings, no_dns, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(InvalidInput) as caught:
        webhook_register(actor=cast.actor("ada"), url=url)
    assert "内部" in str(caught.value.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_a_name_that_resolves_to_an_internal_address_is_refused(cast, settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    monkeypatch.setattr(
        webhooks, "_getaddrinfo", resolver({"partner.example.jp": ["150.95.10.20", "10.0.0.5"], "ok.example.jp": []})
    )
    with pytest.raises(InvalidInput):
        webhook_register(actor=cast.actor("ada"), url="https://partner.example.jp/hook")
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver({"partner.example.jp": ["150.95.10.20"]}))
    endpoint, _secret = webhook_register(actor=cast.actor("ada"), url="https://partner.example.jp/hook")
    assert endpoint.url == "https://partner.example.jp/hook"


def test_an_explicitly_allowed_private_range_is_accepted(cast, settings, no_dns):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    endpoint, _secret = webhook_register(actor=cast.actor("ada"), url="https://10.20.1.5/hook")
    assert endpoint.url == "https://10.20.1.5/hook"
    with pytest.raises(InvalidInput):
        webhook_register(actor=cast.actor("ada"), url="https://10.21.0.1/hook")
    with pytest.raises(InvalidInput):  # the allowance is for that range only, never the cloud metadata address
        webhook_register(actor=cast.actor("ada"), url="https://169.254.169.254/")


def test_the_add_webhook_command_refuses_an_internal_address(cast, settings, no_dns):
    with pytest.raises(CommandError, match="内部"):
        call_command("add_webhook", "ada", "https://169.254.169.254/latest/meta-data/")
    assert not WebhookEndpoint.objects.exists()


def test_the_allowed_networks_setting_is_validated():
    import subprocess
    import sys
    import tempfile

    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
        "DEBUG": "true",
        "TSUNAGU_VAR_DIR": tempfile.mkdtemp(prefix="tsunagu-settings-"),
        "WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16,not-a-network",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "WEBHOOK_ALLOWED_NETWORKS" in result.stderr


# --- delivery: re-checked, and pinned to the checked address --------------------------------------------------


class HostRecorder:
    """A receiver on 127.0.0.1 that records the Host header of each request it gets; with ``tls``, an HTTPS one
    with the partner.example.jp test certificate that records the SNI name too."""

    def __init__(self, *, tls: bool = False):
        self.hosts, self.server_names = [], []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                recorder.hosts.append(self.headers["Host"])
                self.send_response(200 if tls else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS / "partner.crt", TLS / "partner.key")
            context.sni_callback = lambda sock, name, ctx: recorder.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def partner(cast, settings, monkeypatch, django_capture_on_commit_callbacks):
    """The reader agency (社協) registers http://partner.example.jp:<port>/ (a name that does not resolve yet);
    by the time a timeline entry is delivered, the name points at 127.0.0.1 (rebinding)."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    outbox_relay()
    from agencies.services import staff_create

    admin = staff_create(
        actor=Actor.system(channel="cli"), username="sadmin2", agency_code="shakyo", role="agency_admin"
    ).user
    recorder = HostRecorder()
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver({}))
    webhook_register(actor=Actor.for_user(admin, channel="web"), url=f"http://partner.example.jp:{recorder.port}/hook")
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver({"partner.example.jp": ["127.0.0.1"]}))
    with django_capture_on_commit_callbacks(execute=False):
        services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="call", body="電話で確認")
    outbox_relay()  # the delivery and its first attempt
    yield recorder
    recorder.close()


def test_delivery_refuses_a_name_that_now_resolves_to_loopback(partner):
    WebhookDelivery.objects.update(next_attempt_at="2000-01-01T00:00:00Z")
    (delivery_id,) = webhooks_due()
    assert webhook_attempt(delivery_id=delivery_id) == "pending"
    assert partner.hosts == []  # nothing was sent, neither by the first attempt nor by this one
    attempts = list(WebhookAttempt.objects.all())
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.status_code is None and attempt.error == "refused: internal address 127.0.0.1"


def test_delivery_connects_to_the_checked_address_with_the_endpoint_host(partner, settings, monkeypatch):
    calls = []
    answers = iter([["127.0.0.1"], ["150.95.10.20"]])  # a second lookup would get another address

    def once(host, port, *args, **kwargs):
        calls.append(host)
        return resolver({"partner.example.jp": next(answers)})(host, port)

    monkeypatch.setattr(webhooks, "_getaddrinfo", once)
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the on-premises partner's range (here: the test host)
    WebhookDelivery.objects.update(next_attempt_at="2000-01-01T00:00:00Z")
    (delivery_id,) = webhooks_due()
    assert webhook_attempt(delivery_id=delivery_id) == "delivered"
    assert calls == ["partner.example.jp"]  # resolved once, and the connection went to that answer
    assert partner.hosts == [f"partner.example.jp:{partner.port}"]


# --- HTTPS: the checked address, the endpoint's name for SNI and the certificate -----------------------------

TLS = Path(__file__).parent / "tls"  # a self-signed test-only certificate for partner.example.jp (and its key)


@pytest.fixture
def tls_partner(cast, settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test host stands in for an on-premises partner
    outbox_relay()

    def trusting_the_test_certificate():
        return ssl.create_default_context(cafile=str(TLS / "partner.crt"))

    monkeypatch.setattr(webhooks, "_tls_context", trusting_the_test_certificate)
    names = {"partner.example.jp": ["127.0.0.1"], "impostor.example.jp": ["127.0.0.1"]}
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver(names))
    recorder = HostRecorder(tls=True)
    yield recorder
    recorder.close()


def _deliver_one(cast, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=False):
        services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="call", body="電話で確認")
    outbox_relay()
    return WebhookDelivery.objects.get().status


def test_https_delivery_uses_the_endpoint_name_for_sni_and_the_certificate(
    cast, tls_partner, django_capture_on_commit_callbacks
):
    webhook_register(actor=cast.actor("ada"), url=f"https://partner.example.jp:{tls_partner.port}/hook")
    assert _deliver_one(cast, django_capture_on_commit_callbacks) == "delivered"
    assert tls_partner.server_names == ["partner.example.jp"]
    assert tls_partner.hosts == [f"partner.example.jp:{tls_partner.port}"]


def test_pinning_the_address_does_not_skip_certificate_verification(
    cast, tls_partner, django_capture_on_commit_callbacks
):
    webhook_register(actor=cast.actor("ada"), url=f"https://impostor.example.jp:{tls_partner.port}/hook")
    assert _deliver_one(cast, django_capture_on_commit_callbacks) == "pending"  # failed, to be retried
    assert tls_partner.hosts == []
    assert "CERTIFICATE_VERIFY_FAILED" in WebhookAttempt.objects.get().error
