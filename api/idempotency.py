"""``Idempotency-Key`` for POSTs that create something: a retry returns the first response instead of a second row.

The key row is inserted, the service runs, and the row is completed with the response, all in one transaction
(the service's own transaction nests inside it as a savepoint). So:

- a committed key row always holds its response: a later request with the same key and body replays it, one
  with another body gets 409;
- a concurrent request with the same key blocks on the unique index until the first commits, then replays its
  response (after ``API_IDEMPOTENCY_WAIT_SECONDS`` on PostgreSQL it gives up with 409 "in progress");
- if the service refuses (400/403/404) or fails, no key row survives, so the key can be retried. Refusals are
  still committed, because the service's denied-audit event is written in this same transaction.

Keys are scoped per user and kept ``API_IDEMPOTENCY_HOURS`` (at least 24 h); ``purge_idempotency_keys`` deletes
older ones (the stored responses hold case data, so they should not outlive their purpose).
"""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from agencies.actors import Actor
from audit.services import audit_record
from tsunagu.errors import Conflict, DomainError, InvalidInput

from .actions import ApiAction
from .formats import IDEMPOTENCY_KEY_PATTERN
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_LOCK_NOT_AVAILABLE = "55P03"


class IdempotencyConflict(Conflict):
    """The key was used with another request, or the first request with it is still running."""


@dataclass(frozen=True)
class Outcome:
    """A successful write: the response, and what it exposed (for the audit event of a replay)."""

    status: int
    body: dict
    client_id: str = ""
    target_type: str = ""
    target_id: str = ""


def fingerprint(request) -> str:
    """The request's method, path and body; a multipart body by its fields and each file's name and content."""
    data = request.data
    if hasattr(data, "getlist"):  # a form (multipart): files by their name and content's hash
        data = {key: [_file_print(value) for value in data.getlist(key)] for key in sorted(data)}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _file_print(value):
    if not isinstance(value, UploadedFile):
        return value
    digest = hashlib.sha256()
    for chunk in value.chunks():
        digest.update(chunk)
    value.seek(0)
    return {"name": value.name, "size": value.size, "sha256": digest.hexdigest()}


def _cutoff():
    return timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def _insert(user, key: str, fp: str) -> IdempotencyRecord:
    """Insert the key row, waiting a bounded time for a concurrent holder of the same key (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fp)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true)", [f"{settings.API_IDEMPOTENCY_WAIT_SECONDS * 1000}ms"]
        )
        record = IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fp)
        # Only this insert waits bounded; the service's own row locks keep the usual behaviour.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return record


def _reserve(user, key: str, fp: str) -> tuple[IdempotencyRecord, bool]:
    """The new key row (``True``) or the committed one already there (``False``). Runs inside a transaction."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _insert(user, key, fp), True
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if existing is None:
                continue  # freed in the meantime (the first request failed): try to take it
            if existing.created_at <= _cutoff():
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue  # past retention: the key is free again
            return existing, False
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                break
            raise
    raise IdempotencyConflict(_("同じ Idempotency-Key のリクエストを処理中です。しばらくしてから再送してください。"))


def _respond(outcome_status: int, body, *, replayed: bool) -> Response:
    response = Response(body, status=outcome_status)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def idempotent(request, *, actor: Actor, perform: Callable[[], Outcome]) -> Response:
    """Run ``perform`` (a service call) at most once per user and ``Idempotency-Key``; without a key, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        outcome = perform()
        return _respond(outcome.status, outcome.body, replayed=False)
    if not _VALID_KEY.fullmatch(key):
        raise InvalidInput(
            {HEADER: [_("Idempotency-Key は空白を含まない255文字以内のASCII文字列で指定してください。")]}
        )
    fp = fingerprint(request)
    error: DomainError | None = None
    with transaction.atomic():
        record, created = _reserve(request.user, key, fp)
        if not created:
            if record.fingerprint != fp:
                raise IdempotencyConflict(_("この Idempotency-Key は別の内容のリクエストに使われています。"))
            if record.status_code is None:  # not expected: rows are completed before they commit
                raise IdempotencyConflict(_("同じ Idempotency-Key のリクエストを処理中です。"))
            # Replaying shows the stored response again: an access to case data like any other.
            audit_record(
                actor=actor,
                action=ApiAction.IDEMPOTENT_REPLAY,
                client_ids=[record.client_id] if record.client_id else [],
                target_type=record.target_type,
                target_id=record.target_id,
                details={"status": record.status_code, "first_request_at": record.created_at.isoformat()},
            )
            return _respond(record.status_code, record.response_body, replayed=True)
        try:
            outcome = perform()
        except DomainError as exc:
            # Commit the refusal's audit event, but free the key: nothing was written, so a retry may run.
            error = exc
            record.delete()
        else:
            record.status_code = outcome.status
            record.response_body = outcome.body
            record.client_id, record.target_type = outcome.client_id, outcome.target_type
            record.target_id = outcome.target_id
            record.save(update_fields=["status_code", "response_body", "client_id", "target_type", "target_id"])
    if error is not None:
        raise error
    return _respond(outcome.status, outcome.body, replayed=False)


def idempotency_purge(*, older_than_hours: int | None = None) -> int:
    """Delete keys past retention (never younger than ``API_IDEMPOTENCY_HOURS``). Returns how many."""
    hours = max(older_than_hours or 0, settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=timezone.now() - timedelta(hours=hours)).delete()
    return deleted
