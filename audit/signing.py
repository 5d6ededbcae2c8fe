"""Keyed signatures made by the application with a key the database does not hold (``AUDIT_SIGNING_KEYS``).

* Every event carries ``mac = "<key id>:<tag>.<mac>"``, written by ``audit_record`` in the same INSERT:
  ``tag`` is the first 16 hex digits of HMAC-SHA256(key, uuid) and ``mac`` the HMAC-SHA256 of the event's
  canonical line without its ``seq`` (the number is drawn by the database during the INSERT). A database superuser
  without the key can neither forge an event (its ``tag`` does not verify: ``forged_event``) nor change an
  unsealed one unnoticed (the ``tag`` verifies, the ``mac`` does not: ``changed_event``).
* The daily digest for the privacy officer is signed the same way (``sign_text``).

HMAC, not a public-key signature: the verifier is the application itself (``verify_audit``) and the privacy
officer's console, both of which hold the key; no third party needs to check a signature without it.
"""

import hmac

from django.conf import settings
from django.db import models

from .canonical import EventLike, canonical_parts


def _keys() -> list[tuple[str, str]]:
    return list(settings.AUDIT_SIGNING_KEYS)


def hmac_hex(secret: str, data: bytes) -> str:
    """Hex HMAC-SHA256 of ``data`` under ``secret``: the audit layer's one keyed hash."""
    return hmac.digest(secret.encode("utf-8"), data, "sha256").hex()


def unnumbered_line(parts: tuple[str, str]) -> bytes:
    """The canonical line without its ``seq`` (``canonical_parts``): what the MAC covers."""
    head, tail = parts
    return f"{head},{tail}".encode()


def _unnumbered_line(event: EventLike) -> bytes:
    return unnumbered_line(canonical_parts(event))


def event_mac(event: EventLike) -> str:
    key_id, secret = _keys()[0]
    tag = hmac_hex(secret, str(event.uuid).encode("ascii"))[:16]
    return f"{key_id}:{tag}.{hmac_hex(secret, _unnumbered_line(event))}"


class MacCheck(models.TextChoices):
    OK = "ok"
    MISSING = "missing"  # no MAC at all
    FORGED = "forged"  # the tag does not verify under any key held: the application did not write this event
    ALTERED = "altered"  # the tag verifies, the content does not: a genuine event was changed


def check_event_mac(event: EventLike, *, parts: tuple[str, str] | None = None) -> str:
    """Whether the event is as the application wrote it (``parts``: its ``canonical_parts``, when already made)."""
    value = getattr(event, "mac", None) or ""
    key_id, sep, rest = value.partition(":")
    tag, dot, mac = rest.partition(".")
    if not sep or not dot:
        return MacCheck.MISSING
    for known_id, secret in _keys():
        if known_id != key_id:
            continue
        if not hmac.compare_digest(hmac_hex(secret, str(event.uuid).encode("ascii"))[:16], tag):
            return MacCheck.FORGED
        line = unnumbered_line(parts) if parts is not None else _unnumbered_line(event)
        if hmac.compare_digest(hmac_hex(secret, line), mac):
            return MacCheck.OK
        return MacCheck.ALTERED
    return MacCheck.FORGED


def sign_text(text: str) -> str:
    key_id, secret = _keys()[0]
    return f"{key_id}:{hmac_hex(secret, text.encode('utf-8'))}"


def text_signature_ok(text: str, signature: str) -> bool:
    key_id, _sep, mac = signature.partition(":")
    return any(
        known_id == key_id and hmac.compare_digest(hmac_hex(secret, text.encode("utf-8")), mac)
        for known_id, secret in _keys()
    )
