"""Writing audit events. Domain services call these inside their own transaction (fail closed)."""

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from tsunagu.ids import parse_uuid

from . import actions
from .models import AuditEvent, AuditExposure, Outcome
from .signing import event_mac, hmac_hex

as_uuid = parse_uuid  # the audit layer's name for it (selectors, exports and review import it from here)


class AuditActor(Protocol):
    """What the audit log needs to know of whoever acts. Domain actors implement this."""

    # Read-only: frozen dataclasses and properties satisfy it.
    @property
    def user_id(self) -> int | None: ...
    @property
    def username(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def api_key_id(self) -> str: ...
    @property
    def at(self) -> datetime | None: ...  # when the action happens; None: now (see agencies.actors.Actor.at)


@dataclass(frozen=True)
class SystemActor:
    """The audit layer's own actor, for its commands and tasks (purge): nobody's behalf, no agency."""

    channel: str = "cli"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_id: int | None = None
    username: str = "system"
    agency_code: str = ""
    ip: str | None = None
    user_agent: str = ""
    api_key_id: str = ""
    at: datetime | None = None


# Targets whose ids are UUIDs (the audit layer names them by type; it imports no domain app). Any other target id
# must look like an id: a number, a code, a username.
UUID_TARGETS = frozenset(
    {
        "client",
        "share",
        "entry",
        "apikey",
        "anomaly_flag",
        "audit_export",
        "webhook",
        "webhook_delivery",
        "break_glass",
        "meeting",
        "action_item",
        "inquiry",
        "import_run",
    }
)
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:@+-]{1,64}$")


def well_formed_target(target_type: str, target_id: object) -> tuple[str, bool]:
    """``(id to store, malformed)``. Whatever a caller put in a URL reaches this point: only a well-formed id is
    stored (a UUID in its canonical form); anything else is stored as "" and flagged ``malformed_id``."""
    if target_id is None or target_id == "":
        return "", False
    if target_type in UUID_TARGETS:
        parsed = as_uuid(target_id)
        return (str(parsed), False) if parsed is not None else ("", True)
    text = str(target_id)
    return (text, False) if _PLAIN_ID.match(text) else ("", True)


def terms_hash(text: str) -> str:
    """A search is recorded by a keyed hash of its terms, never the terms (they may contain a name):
    ``"<key id>:<hex HMAC-SHA256(key, text)>"`` under the current ``AUDIT_HMAC_KEYS`` key. A plain hash of a name
    is reversed by hashing a list of names; without the key, which the audit table, its backups and exports do not
    hold, this one is not."""
    key_id, secret = settings.AUDIT_HMAC_KEYS[0]
    return f"{key_id}:{hmac_hex(secret, text.encode('utf-8'))}"


def terms_hash_candidates(texts: Iterable[str]) -> set[str]:
    """Every form in which one of ``texts`` may have been recorded: under each key still held (so that hashes made
    before a rotation still match), and as the unkeyed SHA-256 of events written before hashes were keyed."""
    found: set[str] = set()
    for text in texts:
        found.add(hashlib.sha256(text.encode("utf-8")).hexdigest())
        for key_id, secret in settings.AUDIT_HMAC_KEYS:
            found.add(f"{key_id}:{hmac_hex(secret, text.encode('utf-8'))}")
    return found


def audit_record(
    *,
    actor: AuditActor,
    action: str,
    outcome: str = Outcome.ALLOWED,
    reason: str = "",
    client_ids: Iterable[object] = (),
    target_type: str = "",
    target_id: object = "",
    authorised_by: object = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Insert one event (and its exposure index rows) in the current transaction. An exception here must abort
    the caller's access. ``action`` must be a registered code (``audit.actions``): a code nobody declared would
    reach the log with no label and escape the rules that look for it."""
    if not actions.is_registered(action):
        raise ValueError(f"audit action {action!r} is not registered (audit.actions.register)")
    action = str(action)
    client_ids = [str(cid) for cid in client_ids]
    target_id, malformed = well_formed_target(target_type, target_id)
    if malformed:
        details = {**(details or {}), "malformed_id": True}
    # On PostgreSQL the row's number is drawn by a column default that first assigns the transaction id
    # (migration 0005): sealing relies on that order (see audit.sealing).
    fields = dict(
        uuid=uuid.uuid4(),
        occurred_at=actor.at or timezone.now(),
        actor_user_id=actor.user_id,
        actor_username=actor.username,
        actor_agency_code=actor.agency_code,
        channel=actor.channel,
        action=action,
        outcome=outcome,
        reason=reason,
        client_ids=client_ids,
        target_type=target_type,
        target_id=target_id,
        request_id=actor.request_id,
        ip=AuditEvent._meta.get_field("ip").get_prep_value(actor.ip),
        user_agent=(actor.user_agent or "")[:256],
        api_key_id=actor.api_key_id or "",
        authorised_by=str(authorised_by or ""),
        details=details or {},
    )
    # The application's signature of the event (audit.signing), made before the database draws its number.
    event = AuditEvent(**fields)
    event.mac = event_mac(event)
    exposed: dict[uuid.UUID, bool] = {}
    for value in client_ids:
        cid = as_uuid(value)
        if cid is not None:
            exposed[cid] = True
    if target_type == "client":
        cid = as_uuid(target_id)
        if cid is not None:
            exposed.setdefault(cid, False)
    _write(event, [AuditExposure(client_id=cid, exposed=flag) for cid, flag in exposed.items()])
    return event


def _write(event: AuditEvent, exposures: list[AuditExposure]) -> None:
    """Insert the event and its exposure rows: one statement on PostgreSQL, two elsewhere. The one place an audit
    row is written (a failure here aborts the caller's access: tests break it to prove it)."""
    connection = connections[router.db_for_write(AuditEvent)]
    if exposures and connection.vendor == "postgresql":
        _insert_with_exposures(connection, event, exposures)
        return
    event.save(force_insert=True, using=connection.alias)
    for exposure in exposures:
        exposure.event = event
    AuditExposure.objects.using(connection.alias).bulk_create(exposures)


def _insert_with_exposures(connection: BaseDatabaseWrapper, event: AuditEvent, exposures: list[AuditExposure]) -> None:
    """PostgreSQL: the event and its exposure rows in one statement (``WITH e AS (INSERT … RETURNING seq) INSERT
    INTO exposures … SELECT e.seq …``), one round trip instead of two on every audited read.

    The columns are the models' own (every concrete field but the keys the database draws), so a column added to
    either table is written here too; ``seq`` is left to its column default (migration 0005: the transaction id is
    assigned before the number is drawn), exactly as an ORM insert leaves it."""
    qn = connection.ops.quote_name
    event_fields = [f for f in AuditEvent._meta.concrete_fields if f is not AuditEvent._meta.pk]
    event_params = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in event_fields]
    pk, fk = AuditExposure._meta.pk, AuditExposure._meta.get_field("event")
    exposure_fields = [f for f in AuditExposure._meta.concrete_fields if f is not pk and f is not fk]
    rows, exposure_params = [], []
    for exposure in exposures:
        rows.append("(" + ", ".join("%s" for _ in exposure_fields) + ")")
        exposure_params += [f.get_db_prep_save(getattr(exposure, f.attname), connection) for f in exposure_fields]
    # The first row of VALUES carries the column types (a bare %s would be text); the others follow it.
    casts = [f.cast_db_type(connection) for f in exposure_fields]
    rows[0] = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    seq = qn(str(AuditEvent._meta.pk.column))
    event_table, exposure_table = qn(AuditEvent._meta.db_table), qn(AuditExposure._meta.db_table)
    event_columns = ", ".join(qn(str(f.column)) for f in event_fields)
    event_values = ", ".join("%s" for _ in event_fields)
    names = [qn(str(f.column)) for f in exposure_fields]
    columns, selected = ", ".join(names), ", ".join(f"x.{name}" for name in names)
    # Only quoted model names and placeholders are formatted in; every value is a parameter.
    insert_event = f"INSERT INTO {event_table} ({event_columns}) VALUES ({event_values}) RETURNING {seq}"  # noqa: S608
    sql = (
        f"WITH e AS ({insert_event}) INSERT INTO {exposure_table} ({qn(fk.column)}, {columns}) "  # noqa: S608
        f"SELECT e.{seq}, {selected} FROM e, (VALUES {', '.join(rows)}) AS x ({columns}) RETURNING {qn(fk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*event_params, *exposure_params])
        (seq,) = cursor.fetchone()
    event.seq = seq
    event._state.adding = False
    event._state.db = connection.alias
    for exposure in exposures:
        exposure.event = event


def audit_denied(*, actor: AuditActor, action: str, reason: str, **fields: Any) -> AuditEvent:
    """Record a denied attempt in its own transaction, after the denial (the access itself rolled back)."""
    with transaction.atomic():
        return audit_record(actor=actor, action=action, outcome=Outcome.DENIED, reason=reason, **fields)
