"""Signed webhooks to partner systems when a shared client's timeline changes.

Each event is a small JSON object with ids, kinds and times only (never body text or names)::

    {"id": "<event uuid>", "type": "timeline.append", "client_id": "<uuid>", "entry_id": "<uuid>",
     "kind": "visit", "occurred_at": "2026-11-23T05:05:00+00:00", "agency": "houkatsu",
     "created_at": "2026-11-23T05:06:12+00:00"}

Signature header: ``Tsunagu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``. A
receiver recomputes the HMAC over the timestamp, a dot and the raw request body, compares in constant time, and
rejects timestamps older than a few minutes. ``Tsunagu-Event-Id`` repeats the event id: deliveries are at least
once, so receivers should ignore an id they have seen.

Internal addresses are refused (server-side request forgery): a URL whose host is, or resolves to, a loopback,
private, link-local, multicast, unspecified or otherwise non-global address is refused at registration, and each
delivery resolves the name once, checks every address it got and connects to the checked one (with the endpoint's
own Host and TLS server name), so a name re-pointed at an internal address after registration (DNS rebinding)
gets nothing. ``WEBHOOK_ALLOWED_NETWORKS`` lists private ranges an on-premises partner may use, explicitly.

Attempts are made by a task right after the event, then by a periodic task with exponential backoff (30 s, 1 min,
2 min … capped at 1 h) for up to 24 h; each attempt is recorded and audited (``webhook.deliver``). An endpoint is
disabled after ``WEBHOOK_DISABLE_AFTER`` consecutive failed attempts.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.services import require_agency_admin
from audit.services import audit_record
from tsunagu.errors import InvalidInput

from .actions import WEBHOOK_TOPICS, CaseAction
from .models import OutboxMessage, Share, TimelineEntry, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Tsunagu-Signature"
EVENT_HEADER = "Tsunagu-Event-Id"
LEASE = timedelta(seconds=60)
MAX_ENDPOINTS_PER_AGENCY = 5


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s doubling per failure, capped at an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# --- addresses ---------------------------------------------------------------------------------------


class UnsafeAddress(ValueError):
    """The endpoint's host is, or resolves to, an address webhooks may not reach."""


_getaddrinfo = socket.getaddrinfo  # replaced by a stand-in resolver in tests
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _literal(host: str) -> Address | None:
    """The address a host written as an address means, in any spelling the resolver accepts (``2130706433``,
    ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _allowed_networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to: mapped, 6to4, Teredo, or the well-known NAT64 prefix."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def check_address(address: Address) -> None:
    """Raise ``UnsafeAddress`` unless webhooks may connect to ``address``: a global unicast address, or one inside
    ``WEBHOOK_ALLOWED_NETWORKS`` (never multicast or unspecified). An IPv6 address that carries an IPv4 one
    (mapped, 6to4, Teredo, NAT64) is judged by that IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        else:
            for inner in _embedded_ipv4(address):
                check_address(inner)
    if address.is_multicast or address.is_unspecified:
        raise UnsafeAddress(str(address))
    if any(address.version == net.version and address in net for net in _allowed_networks()):
        return
    if not address.is_global:
        raise UnsafeAddress(str(address))


def resolve_checked(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, each checked; ``UnsafeAddress`` if any one is internal (a name that
    answers with a public and a private address is refused whole). ``OSError`` when the name does not resolve."""
    host = (host or "").rstrip(".").lower()
    literal = _literal(host)
    if literal is not None:
        check_address(literal)
        return [literal]
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeAddress(host)
    found: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in _getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        check_address(address)
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"{host} has no address")
    return found


def _tls_context() -> ssl.SSLContext:
    """Certificates are verified against the system's trust store (tests trust their own test certificate)."""
    return ssl.create_default_context()


def _default_port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


# --- registration -------------------------------------------------------------------------------------


def webhook_register(*, actor: Actor, url: str) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the actor's agency (agency administrators). Returns it and its secret."""
    # Webhooks are the agency administrator's: an endpoint receives events of every client the agency shares.
    agency = require_agency_admin(
        actor, CaseAction.WEBHOOK_REGISTER, gettext("Webhook の管理は機関管理者のみが行えます。")
    )
    parts = urlsplit(url or "")
    allowed = ("https",) if not settings.WEBHOOK_ALLOW_HTTP else ("https", "http")
    try:
        port = _default_port(parts)
    except ValueError:
        port = None
    if parts.scheme not in allowed or not parts.hostname or port is None or len(url) > 500:
        raise InvalidInput({"url": [gettext("https:// で始まる URL を指定してください。")]})
    try:
        resolve_checked(parts.hostname, port)
    except UnsafeAddress:
        raise InvalidInput({"url": [gettext("内部ネットワークのアドレスには送信できません。")]}) from None
    except OSError:
        pass  # not resolvable yet: every delivery resolves and checks the name again
    if WebhookEndpoint.objects.filter(agency=agency, disabled_at__isnull=True).count() >= MAX_ENDPOINTS_PER_AGENCY:
        raise InvalidInput(
            {"url": [gettext("有効な Webhook は1機関%(max)s件までです。") % {"max": MAX_ENDPOINTS_PER_AGENCY}]}
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(agency=agency, url=url, secret=secret, created_by=actor.account)
        audit_record(actor=actor, action=CaseAction.WEBHOOK_REGISTER, target_type="webhook", target_id=endpoint.pk)
    return endpoint, secret


# --- fan-out (outbox consumer) ------------------------------------------------------------------------


def webhooks_fan_out(*, message_id: int) -> list:
    """Create one delivery per active endpoint of every agency sharing the client. Idempotent per message."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None or message.topic not in WEBHOOK_TOPICS:
        return []
    payload = message.payload
    now = timezone.now()
    agencies = Share.objects.filter(client_id=payload["client_id"]).active(now).values_list("agency_id", flat=True)
    endpoints = WebhookEndpoint.objects.filter(agency_id__in=list(agencies), disabled_at__isnull=True)
    entry = TimelineEntry.objects.select_related("agency").filter(pk=payload.get("entry_id")).first()
    created = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(endpoint=endpoint, event_key=f"outbox:{message.pk}", client_id=payload["client_id"])
        delivery.payload = {
            "id": str(delivery.pk),
            "type": message.topic,
            "client_id": payload["client_id"],
            "entry_id": payload.get("entry_id"),
            "kind": entry.kind if entry else None,
            "occurred_at": entry.occurred_at.isoformat() if entry else None,
            "agency": entry.agency.code if entry and entry.agency else None,
            "created_at": message.created_at.isoformat(),
        }
        _, made = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            event_key=delivery.event_key,
            defaults={"id": delivery.pk, "payload": delivery.payload, "client_id": delivery.client_id},
        )
        if made:
            created.append(delivery.pk)
    return created


# --- delivery -----------------------------------------------------------------------------------------


def _claim(delivery_id) -> WebhookDelivery | None:
    """Lease a due delivery so that no other worker attempts it at the same time."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is not None:
            delivery.next_attempt_at = now + LEASE
            delivery.save(update_fields=["next_attempt_at"])
    return delivery


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One POST. The name is resolved once and checked; the connection goes to that checked address, with the
    endpoint's host name in the Host header and as the TLS server name (the certificate is verified against it).
    Redirects are never followed: a 3xx is a failed attempt."""
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    parts = urlsplit(endpoint.url)
    try:
        port = _default_port(parts)
        address = resolve_checked(parts.hostname or "", port)[0]
    except UnsafeAddress as exc:
        return None, f"refused: internal address {exc}"[:255]
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:255]
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    host = parts.hostname or ""  # resolved above
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_to_checked(_host_port, timeout=timeout, source_address=None):
        return socket.create_connection((str(address), port), timeout, source_address)

    # http.client opens its socket through this attribute: pin it to the checked address (no second lookup).
    conn._create_connection = connect_to_checked  # type: ignore[attr-defined]  # private, not in the stubs
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tsunagu-Webhook/1",
        SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), body),
        EVENT_HEADER: str(delivery.pk),
    }
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        status = response.status
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:255]
    finally:
        conn.close()
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def webhook_attempt(*, delivery_id) -> str:
    """Make one attempt; returns the delivery's status afterwards (or "skipped" when not due / leased)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    system = Actor.system(channel="task")
    if endpoint.disabled_at is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.GAVE_UP)
        return WebhookDelivery.Status.GAVE_UP
    started = time.monotonic()
    status_code, error = _post(endpoint, delivery)
    ok = status_code is not None and 200 <= status_code < 300
    now = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        delivery.attempts += 1
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if ok:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, now
            endpoint.consecutive_failures = 0
        else:
            endpoint.consecutive_failures += 1
            if now - delivery.created_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
                delivery.status = WebhookDelivery.Status.GAVE_UP
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
            if endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER and endpoint.disabled_at is None:
                endpoint.disabled_at = now
                endpoint.disabled_reason = f"{endpoint.consecutive_failures} consecutive failed attempts"
                delivery.status = WebhookDelivery.Status.GAVE_UP
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
        endpoint.save(update_fields=["consecutive_failures", "disabled_at", "disabled_reason"])
        audit_record(
            actor=system,
            action=CaseAction.WEBHOOK_DELIVER,
            outcome="allowed" if ok else "error",
            reason="" if ok else "delivery_failed",
            client_ids=[delivery.client_id],
            target_type="webhook_delivery",
            target_id=delivery.pk,
            details={"endpoint": str(endpoint.pk), "status_code": status_code, "attempt": delivery.attempts},
        )
    return delivery.status


def webhooks_due(*, limit: int = 100) -> list:
    """Ids of pending deliveries whose next attempt is due."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
