"""Health checks, shared by ``manage.py health`` and ``/health/`` (``tsunagu.health_view``).

Counts, ages and states only: nothing about any client, no secret, no broker address.

``background_state()`` reads what the ``health`` command has always reported (the outbox, pending webhooks, the
last audit seal and verification, the attachments' integrity). ``health_report()`` adds the live checks a load
balancer and a monitoring system need (database, cache, broker, disk) and grades each component:

- ``fail`` — this node cannot serve correctly: the database or the cache does not answer, the broker (when one is
  configured) cannot be reached, or a data directory has less than ``DISK_FAIL_BYTES`` free. ``/health/`` answers
  503.
- ``degraded`` — the service answers but background work needs an operator: everything for which the ``health``
  command exits non-zero (the oldest unfinished outbox message is older than ``OUTBOX_MAX_AGE_SECONDS``, the last
  audit verification failed, an attachment failed its integrity check), and also audit events left unsealed longer
  than ``UNSEALED_MAX_AGE_SECONDS``, a last audit or attachment verification older than ``VERIFY_MAX_AGE_SECONDS``,
  a data directory with less than ``DISK_DEGRADED_FRACTION`` or ``DISK_DEGRADED_BYTES`` free. ``/health/``
  answers 200, so a load balancer keeps the node; monitoring alerts on the status.
- ``ok`` — otherwise. A fresh installation that has not yet verified anything is ok.

The database aggregates, the broker connection and the disk figures are kept ``CACHE_SECONDS`` in the process, so
a probe every few seconds costs one trivial query and one cache round trip.
"""

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from audit.selectors import SealStatus, audit_unsealed_oldest, seal_latest
from tsunagu.celery import app as celery_app

from .models import WebhookDelivery
from .outbox import outbox_unfinished
from .services.attachments import IntegrityState, attachment_integrity_state

OK, DEGRADED, FAIL = "ok", "degraded", "fail"
_RANK = {OK: 0, DEGRADED: 1, FAIL: 2}

OUTBOX_MAX_AGE_SECONDS = 300  # the health command's --max-outbox-age default
UNSEALED_MAX_AGE_SECONDS = 300  # sealing runs every AUDIT_SEAL_INTERVAL_SECONDS (5 s)
VERIFY_MAX_AGE_SECONDS = 48 * 3600  # both verifications run nightly: one missed night is tolerated
DISK_DEGRADED_FRACTION = 0.10
DISK_DEGRADED_BYTES = 1024**3
DISK_FAIL_BYTES = 100 * 1024**2
CACHE_SECONDS = 5.0
BROKER_TIMEOUT_SECONDS = 2


@dataclass
class BackgroundState:
    """What the ``health`` command reports."""

    outbox_unfinished: int
    outbox_unpublished: int
    outbox_age: timedelta
    webhooks_pending: int
    audit: SealStatus
    unsealed_since: datetime | None
    files: IntegrityState


def background_state() -> BackgroundState:
    unfinished, unpublished, age = outbox_unfinished()
    audit = seal_latest()
    return BackgroundState(
        outbox_unfinished=unfinished,
        outbox_unpublished=unpublished,
        outbox_age=age,
        webhooks_pending=WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count(),
        audit=audit,
        unsealed_since=audit_unsealed_oldest(audit.seal),
        files=attachment_integrity_state(),
    )


@dataclass
class Component:
    status: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **self.details}


def _age(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else max(0, int((now - moment).total_seconds()))


def grade_background(state: BackgroundState, now: datetime) -> dict[str, Component]:
    """The outbox, audit and attachment components of the report, graded."""
    outbox_age = int(state.outbox_age.total_seconds())
    outbox = Component(
        DEGRADED if outbox_age > OUTBOX_MAX_AGE_SECONDS else OK,
        {
            "unfinished": state.outbox_unfinished,
            "unpublished": state.outbox_unpublished,
            "oldest_age_seconds": outbox_age,
            "webhooks_pending": state.webhooks_pending,
        },
    )
    seal, verification = state.audit.seal, state.audit.verification
    unsealed_age = _age(state.unsealed_since, now)
    verification_age = _age(verification.ran_at if verification else None, now)
    audit_ok = (
        (unsealed_age is None or unsealed_age <= UNSEALED_MAX_AGE_SECONDS)
        and (verification is None or verification.ok)
        and (verification_age is None or verification_age <= VERIFY_MAX_AGE_SECONDS)
    )
    audit = Component(
        OK if audit_ok else DEGRADED,
        {
            "last_seal_age_seconds": _age(seal.created_at if seal else None, now),
            "oldest_unsealed_age_seconds": unsealed_age,
            "last_verification_age_seconds": verification_age,
            "last_verification_ok": verification.ok if verification else None,
        },
    )
    files = state.files
    files_age = _age(files.last_run_at, now)
    attachments = Component(
        OK if files.ok and (files_age is None or files_age <= VERIFY_MAX_AGE_SECONDS) else DEGRADED,
        {
            "last_check_age_seconds": files_age,
            "last_check_failed": files.last_run.get("failed", 0) if files.last_run_at else None,
            "failing": files.failed_now,
        },
    )
    return {"outbox": outbox, "audit": audit, "attachments": attachments}


# --- live checks ---------------------------------------------------------------------------------------------


def check_database() -> Component:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return Component(FAIL, {"error": type(exc).__name__})
    return Component(OK)


def check_cache() -> Component:
    key, value = "tsunagu:health", uuid.uuid4().hex
    try:
        cache.set(key, value, 30)
        ok = cache.get(key) == value
    except Exception as exc:
        return Component(FAIL, {"error": type(exc).__name__})
    return Component(OK) if ok else Component(FAIL, {"error": "value not kept"})


def check_broker() -> Component:
    """The mode "eager" when tasks run in-process (no broker configured); else whether a connection opens."""
    if celery_app.conf.task_always_eager:
        return Component(OK, {"mode": "eager"})
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # never the message: it may name the broker's address
        return Component(FAIL, {"mode": "broker", "error": type(exc).__name__})
    return Component(OK, {"mode": "broker"})


def data_dirs() -> dict[str, Path]:
    """The local directories the application writes: audit exports, and attachments when stored on disk."""
    dirs = {"exports": Path(settings.AUDIT_EXPORT_DIR)}
    location = settings.STORAGES.get("attachments", {}).get("OPTIONS", {}).get("location")
    if settings.ATTACHMENT_STORAGE == "filesystem" and location:
        dirs["attachments"] = Path(location)
    return dirs


def _existing(path: Path) -> Path:
    """The directory itself, or its nearest existing parent (a directory not yet created shares its disk)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def check_disk() -> Component:
    details: dict[str, Any] = {}
    worst = OK
    for name, path in data_dirs().items():
        try:
            usage = shutil.disk_usage(_existing(path))
        except OSError as exc:
            details[name] = {"status": FAIL, "error": type(exc).__name__}
            worst = FAIL
            continue
        fraction = usage.free / usage.total if usage.total else 0.0
        if usage.free < DISK_FAIL_BYTES:
            status = FAIL
        elif usage.free < DISK_DEGRADED_BYTES or fraction < DISK_DEGRADED_FRACTION:
            status = DEGRADED
        else:
            status = OK
        details[name] = {"status": status, "free_bytes": usage.free, "free_percent": round(fraction * 100, 1)}
        worst = max(worst, status, key=_RANK.__getitem__)
    return Component(worst, details)


# --- the report ----------------------------------------------------------------------------------------------

_slow_lock = threading.Lock()
_slow: dict[str, Any] = {"at": None, "value": None}


def _slow_components() -> dict[str, Component]:
    """The broker, the disk and the database aggregates: computed at most every ``CACHE_SECONDS`` per process."""
    with _slow_lock:
        at = _slow["at"]
        if at is not None and time.monotonic() - at < CACHE_SECONDS:
            return _slow["value"]
        components = {"broker": check_broker(), **grade_background(background_state(), timezone.now())}
        components["disk"] = check_disk()
        _slow.update(at=time.monotonic(), value=components)
        return components


def forget_cached() -> None:
    """Drop the cached components (tests; the next report computes everything)."""
    with _slow_lock:
        _slow.update(at=None, value=None)


def health_report() -> dict[str, Any]:
    """``{"status": …, "components": {name: {"status": …, …}}}``; the overall status is the worst component's."""
    components = {"database": check_database(), "cache": check_cache()}
    if components["database"].status == OK:
        try:
            components.update(_slow_components())
        except Exception as exc:  # a query of the aggregates failed: reported, never a 500
            components["background"] = Component(FAIL, {"error": type(exc).__name__})
    else:
        # Without a database the aggregates cannot be read; the broker and the disk still can.
        components.update(broker=check_broker(), disk=check_disk())
    status = max((c.status for c in components.values()), key=_RANK.__getitem__)
    return {
        "status": status,
        "time": timezone.now().isoformat(timespec="seconds"),
        "components": {name: c.as_dict() for name, c in components.items()},
    }
