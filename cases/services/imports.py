"""Moving in from kintone: an export (records, their comments) and a mapping become clients, shares and timeline
entries of one agency, the owner.

The one audited path for an import, whatever starts it (``import_kintone`` on the command line, the agency
administrator's upload through a Celery task):

- Each record is imported in its own transaction, with an audit event for every client, share and entry it makes
  (``import.client``, ``import.share``, ``import.entry``) and a summary event per run (``import.run``).
- What was imported remembers where it came from (``ImportedClient``, ``ImportedEntry``: source, app, record,
  table row or comment), so a second run adds only what is new, and an interrupted run is continued by running it
  again: nothing is imported twice.
- A dry run does exactly the same work and rolls each record back: its report says what the real run would do, and
  no client, share or entry is left behind. The run and its report are kept (they are the import's own
  bookkeeping), and so is its summary event.
- A record that cannot be imported (no birth date, a date that cannot be read, an organization the mapping does not
  know, a likely duplicate of a client the owner already has) is reported and skipped; the run goes on.
- Imported entries keep their original date and author. An author that maps to no Tsunagu user is kept by name
  (``ImportedEntry.author_name``). Nobody is notified: years of history arriving at once are not news.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from agencies.actions import AgencyReason
from agencies.actors import Actor
from agencies.models import Agency, Staff
from audit.refusals import refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput

from .. import kintone
from ..actions import CaseAction, CaseReason
from ..kintone.model import BadRecord, KRecord
from ..kintone.plan import EntryPlan, Problem, RecordPlan, ShareSpec
from ..models import (
    Client,
    ImportedClient,
    ImportedEntry,
    ImportReportLine,
    ImportRun,
    ImportRunStatus,
    Share,
    ShareBasis,
    ShareLevel,
    TimelineEntry,
)
from .clients import _next_case_number, _refresh_keys
from .permissions import add_perms, grant_perms
from .validation import clean_profile

SOURCE = "kintone"
REPORT_BATCH = 200  # report lines written at a time
PROGRESS_EVERY = 100  # records between progress saves

ProgressCallback = Callable[[int, int | None], None]


class _DryRunRollback(Exception):
    """Raised at the end of a record's transaction in a dry run, to undo what it did."""


@dataclass
class _Outcome:
    outcome: str  # created / updated / unchanged / skipped / error
    reason: str = ""
    message: str = ""
    case_number: str = ""
    entries: int = 0
    shares: int = 0
    client_id: object = None
    items: list[Problem] = field(default_factory=list)  # parts left out


@dataclass
class _Context:
    """What every record of a run needs: the run, its actor, the agencies and users the mapping may name."""

    actor: Actor
    run: ImportRun
    owner: Agency
    agencies: dict[str, Agency]
    users: dict[str, tuple[Any, Agency | None]]  # username → (user, their agency)
    planned: set[tuple[str, date]] = field(default_factory=set)  # (フリガナ, 生年月日) made by this run so far
    exposed: set[str] = field(default_factory=set)  # ids of existing clients this run named in its report


def import_start(
    *,
    actor: Actor,
    mapping_text: str,
    dry_run: bool,
    carries_out: ImportRun | None = None,
    files: dict[str, Any] | None = None,
) -> ImportRun:
    """A new run for the actor's agency, waiting to be carried out by ``import_kintone``. Only the system (the
    command line) or the agency's administrator starts one; the mapping must load."""
    owner = require_importer(actor)
    mapping = _load_mapping(mapping_text)
    return ImportRun.objects.create(
        agency=owner,
        app_id=mapping.app_id,
        started_by=actor.account,
        channel=actor.channel,
        dry_run=dry_run,
        carries_out=carries_out,
        mapping_text=mapping_text,
        files=files or {},
    )


def import_kintone(
    *,
    actor: Actor,
    run: ImportRun,
    records: Path,
    comments: Path | None = None,
    progress: ProgressCallback | None = None,
) -> ImportRun:
    """Carry out ``run`` (dry or not) over the export at ``records`` (kintone's JSON or CSV) and the comment files
    in ``comments``. Returns the run, finished: ``done``, or ``failed`` with ``error`` when the export cannot be read
    at all. A ``KeyboardInterrupt`` (or a lost worker) leaves it ``interrupted``; running it again continues."""
    owner = require_importer(actor)
    if run.agency_id != owner.pk:
        refuse(
            actor=actor,
            action=CaseAction.IMPORT_RUN,
            reason=CaseReason.NOT_OWNER,
            error=Forbidden(),
            target_type="import_run",
            target_id=run.pk,
        )
    mapping = _load_mapping(run.mapping_text)
    ctx = _Context(actor=actor, run=run, owner=owner, agencies=_agencies(mapping), users=_users(mapping))
    run.status, run.started_at, run.processed, run.counts, run.error = (
        ImportRunStatus.RUNNING,
        actor.now(),
        0,
        {},
        "",
    )
    run.save(update_fields=["status", "started_at", "processed", "counts", "error"])
    run.report_lines.all().delete()
    counts: dict[str, int] = {}
    lines: list[ImportReportLine] = []
    position = 0  # of the next report line
    tables = mapping.tables()
    try:
        # Counted first: the total shows progress, and a file broken as a whole (a truncated JSON) fails here,
        # before anything of it is imported.
        run.total = kintone.count_records(records)
        run.save(update_fields=["total"])
        index = kintone.CommentIndex(comments) if comments is not None and mapping.reads_comments else None
        for item in kintone.read_records(records, tables=tables, record_id_column=mapping.record_id_column):
            outcome = _import_one(ctx, mapping, item, index)
            _count(counts, outcome)
            for line in _report_lines(run, item, outcome):
                line.position, position = position, position + 1
                lines.append(line)
            run.processed += 1
            if len(lines) >= REPORT_BATCH:
                ImportReportLine.objects.bulk_create(lines)
                lines = []
            if run.processed % PROGRESS_EVERY == 0:
                run.counts = counts
                run.save(update_fields=["processed", "counts"])
                if progress:
                    progress(run.processed, run.total)
        run.status = ImportRunStatus.DONE
    except kintone.ExportError as exc:
        run.status, run.error = ImportRunStatus.FAILED, str(exc)[:500]
    except BaseException:
        run.status = ImportRunStatus.INTERRUPTED
        raise
    finally:
        if lines:
            ImportReportLine.objects.bulk_create(lines)
        run.counts, run.finished_at = counts, actor.now()
        run.save(update_fields=["status", "error", "processed", "counts", "finished_at"])
        _summary_event(ctx)
        if progress:
            progress(run.processed, run.total)
    return run


# --- one record ------------------------------------------------------------------------------------------------


def _import_one(
    ctx: _Context, mapping: kintone.Mapping, item: KRecord | BadRecord, comments: kintone.CommentIndex | None
) -> _Outcome:
    if isinstance(item, BadRecord):
        return _Outcome("error", item.reason, item.message)
    found = comments.read(item.record_id) if comments is not None else None
    plan = mapping.plan(item, found.comments if found else (), now=ctx.actor.now())
    if found:
        plan.skipped_items.extend(
            Problem("bad_comment", message, item=f"comment {where}") for where, message in found.problems
        )
    problems = [p for p in plan.problems if not p.item]
    if problems:
        return _Outcome(
            "skipped", problems[0].reason, " / ".join(p.message for p in problems), items=plan.skipped_items
        )
    result = _Outcome("error")
    try:
        with transaction.atomic():
            result = _apply(ctx, mapping, plan)
            if ctx.run.dry_run and result.outcome != "skipped":
                raise _DryRunRollback
    except _DryRunRollback:
        if result.outcome == "created":
            result.case_number = ""  # a number drawn in a rolled-back transaction: the real run draws its own
    except InvalidInput as exc:
        return _Outcome("skipped", "bad_value", _messages(exc), items=plan.skipped_items)
    except IntegrityError:  # another run imported the same record at the same moment: the next run sees it
        return _Outcome(
            "error", "conflict", gettext("同時に実行された別の取込と重なりました。もう一度実行してください。")
        )
    result.items = plan.skipped_items + result.items
    return result


def _apply(ctx: _Context, mapping: kintone.Mapping, plan: RecordPlan) -> _Outcome:
    """Inside the record's transaction: find or make the client, then its shares and its new entries."""
    origin = (
        ImportedClient.objects.select_for_update()
        .select_related("client")
        .filter(source=SOURCE, app_id=mapping.app_id, record_id=plan.record_id)
        .first()
    )
    unknown = sorted({spec.agency for spec in plan.shares} - set(ctx.agencies))
    if unknown:
        return _Outcome(
            "skipped",
            "unknown_agency",
            gettext("対応表の機関コードが Tsunagu にありません: %(codes)s") % {"codes": ", ".join(unknown)},
        )
    profile = clean_profile(plan.profile, partial=False)
    if origin is None:
        duplicate = _duplicate_of(ctx, profile)
        if duplicate:
            return duplicate
        client = _create_client(ctx, mapping, plan, profile)
        ctx.planned.add((profile["name_kana"], profile["birth_date"]))
        outcome = _Outcome("created", case_number=client.case_number, client_id=client.pk)
    else:
        client = origin.client
        if client.owner_agency_id != ctx.owner.pk:
            return _Outcome(
                "skipped",
                "other_owner",
                gettext("このレコードは別の機関が取り込み済みです。"),
            )
        outcome = _Outcome("unchanged", case_number=client.case_number, client_id=client.pk)
        if _update_client(ctx, origin, plan, profile, outcome):
            outcome.outcome = "updated"
    fresh = origin is None
    outcome.shares = sum(_grant(ctx, client, spec, plan, fresh=fresh) for spec in plan.shares)
    outcome.entries = _add_entries(ctx, mapping, client, plan, outcome)
    if outcome.outcome == "unchanged" and (outcome.shares or outcome.entries):
        outcome.outcome = "updated"
    return outcome


def _duplicate_of(ctx: _Context, profile: dict[str, Any]) -> _Outcome | None:
    """A client the owner already sees with the same フリガナ and birth date (or one this run made): likely the same
    person, so the record is skipped for a person to decide. Only clients the owner agency can see are compared: a
    client it may not see is indistinguishable from one that does not exist, in an import's report too."""
    key = (profile["name_kana"], profile["birth_date"])
    if key in ctx.planned:
        return _Outcome(
            "skipped", "duplicate", gettext("この取込の別のレコードと同じフリガナ・生年月日です（重複の可能性）。")
        )
    existing = (
        Client.objects.filter(
            name_kana=profile["name_kana"],
            birth_date=profile["birth_date"],
            shares__in=Share.objects.active().filter(agency=ctx.owner),
        )
        .values_list("pk", "case_number")
        .first()
    )
    if existing is None:
        return None
    ctx.exposed.add(str(existing[0]))
    return _Outcome(
        "skipped",
        "duplicate",
        gettext("既存の支援対象者 %(case)s と同じフリガナ・生年月日です（重複の可能性）。") % {"case": existing[1]},
        case_number=existing[1],
    )


def _create_client(ctx: _Context, mapping: kintone.Mapping, plan: RecordPlan, profile: dict[str, Any]) -> Client:
    actor, owner = ctx.actor, ctx.owner
    client = Client(owner_agency=owner, case_number=_next_case_number(), **profile)
    _refresh_keys(client)
    client.save()
    share = Share.objects.create(
        client=client,
        agency=owner,
        level=ShareLevel.MANAGE,
        basis=ShareBasis.CONSENT,
        basis_note=gettext("kintone からの移行（アプリ %(app)s レコード %(record)s）")
        % {"app": mapping.app_id, "record": plan.record_id},
        granted_by=actor.account,
        granted_at=actor.now(),
    )
    add_perms(client, owner, ShareLevel.MANAGE)
    ImportedClient.objects.create(
        client=client,
        source=SOURCE,
        app_id=mapping.app_id,
        record_id=plan.record_id,
        revision=plan.revision,
        profile=_as_json(profile),
        run=ctx.run,
    )
    audit_record(
        actor=actor,
        action=CaseAction.IMPORT_CLIENT,
        client_ids=[client.pk],
        target_type="client",
        target_id=client.pk,
        authorised_by=share.pk,
        details=_origin(ctx, plan, created=True),
    )
    return client


def _update_client(
    ctx: _Context, origin: ImportedClient, plan: RecordPlan, profile: dict[str, Any], outcome: _Outcome
) -> bool:
    """A record imported before: its profile follows kintone where the record changed there, except where the
    field was changed in Tsunagu since the last import (a caseworker's correction wins; the report names the
    field). ``address_confidential`` is only ever turned on by an import, never off: a person decides that."""
    client = origin.client
    if plan.revision and plan.revision == origin.revision:
        return False
    imported = dict(origin.profile)
    changes: dict[str, Any] = {}
    kept: list[str] = []
    for name, value in profile.items():
        current = getattr(client, name)
        if current == value or (name == "address_confidential" and not value):
            continue
        if name in imported and _as_json({name: current})[name] != imported[name]:
            kept.append(name)
        else:
            changes[name] = value
        imported[name] = _as_json({name: value})[name]
    origin.revision, origin.updated_by_run, origin.profile = plan.revision, ctx.run, imported
    origin.save(update_fields=["revision", "updated_by_run", "profile"])
    if kept:
        outcome.items.append(
            Problem(
                "edited_in_tsunagu",
                gettext("Tsunagu で変更された項目は変更していません: %(fields)s") % {"fields": ", ".join(kept)},
                item="profile",
            )
        )
    if not changes:
        return False
    for name, value in changes.items():
        setattr(client, name, value)
    _refresh_keys(client)
    client.save()
    audit_record(
        actor=ctx.actor,
        action=CaseAction.IMPORT_CLIENT,
        client_ids=[client.pk],
        target_type="client",
        target_id=client.pk,
        details={**_origin(ctx, plan, created=False), "fields": sorted(changes)},
    )
    return True


def _as_json(profile: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in profile.items()}


def _grant(ctx: _Context, client: Client, spec: ShareSpec, plan: RecordPlan, *, fresh: bool) -> int:
    """The share the mapping states, on the basis the operator recorded there, unless the agency already holds an
    active one (an import never lowers or replaces a share a person set). 1 when made. ``fresh``: the client was
    registered in this transaction (the plan names each agency once), so there is nothing to look up or replace."""
    agency = ctx.agencies[spec.agency]
    if agency.pk == ctx.owner.pk:
        return 0
    now = ctx.actor.now()
    if not fresh and Share.objects.active(now).filter(client=client, agency=agency).exists():
        return 0
    if spec.expires_at is not None and spec.expires_at <= now:
        return 0
    share = Share.objects.create(
        client=client,
        agency=agency,
        level=spec.level,
        basis=spec.basis,
        basis_note=spec.basis_note,
        granted_by=ctx.actor.account,
        granted_at=now,
        expires_at=spec.expires_at,
    )
    if fresh:
        add_perms(client, agency, spec.level)
    else:
        grant_perms(client, agency, spec.level)
    audit_record(
        actor=ctx.actor,
        action=CaseAction.IMPORT_SHARE,
        client_ids=[client.pk],
        target_type="share",
        target_id=share.pk,
        details={**_origin(ctx, plan), "agency": agency.code, "level": spec.level, "basis": spec.basis},
    )
    return 1


def _add_entries(ctx: _Context, mapping: kintone.Mapping, client: Client, plan: RecordPlan, outcome: _Outcome) -> int:
    done = set(
        ImportedEntry.objects.filter(source=SOURCE, app_id=mapping.app_id, record_id=plan.record_id).values_list(
            "item_type", "item_id"
        )
    )
    made: list[tuple[TimelineEntry, ImportedEntry]] = []
    now = ctx.actor.now()
    for spec in plan.entries:
        if (spec.item_type, spec.item_id) in done:
            continue
        author, agency, problem = _author(ctx, spec)
        if problem:
            outcome.items.append(problem)
            continue
        entry = TimelineEntry(
            client=client,
            kind=spec.kind,
            occurred_at=spec.occurred_at,
            body=spec.body,
            author=author,
            agency=agency,
            recorded_at=now,
        )
        origin = ImportedEntry(
            entry=entry,
            source=SOURCE,
            app_id=mapping.app_id,
            record_id=plan.record_id,
            item_type=spec.item_type,
            item_id=spec.item_id,
            author_code=spec.author_code[:100],
            author_name=spec.author_name[:100],
            run=ctx.run,
        )
        made.append((entry, origin))
    # A record's entries in two statements (its comments can be hundreds); each still gets its own audit event.
    TimelineEntry.objects.bulk_create([entry for entry, _ in made])
    ImportedEntry.objects.bulk_create([origin for _, origin in made])
    for entry, origin in made:
        audit_record(
            actor=ctx.actor,
            action=CaseAction.IMPORT_ENTRY,
            client_ids=[client.pk],
            target_type="entry",
            target_id=entry.pk,
            details={**_origin(ctx, plan), "item": f"{origin.item_type}:{origin.item_id}"[:120], "kind": entry.kind},
        )
    return len(made)


def _author(ctx: _Context, spec: EntryPlan) -> tuple[Any, Agency, Problem | None]:
    """The entry's author (a mapped Tsunagu user, or none: then kept by name) and agency: the row's organization,
    else the mapped user's agency, else the owner."""
    user, user_agency = ctx.users.get(spec.username or "", (None, None))
    if spec.agency:
        agency = ctx.agencies.get(spec.agency)
        if agency is None:
            problem = Problem(
                "unknown_agency",
                gettext("対応表の機関コードが Tsunagu にありません: %(codes)s") % {"codes": spec.agency},
                item=f"{spec.item_type} {spec.item_id}",
            )
            return None, ctx.owner, problem
        return user, agency, None
    return user, user_agency or ctx.owner, None


# --- the run ---------------------------------------------------------------------------------------------------


def require_importer(actor: Actor, action: str = CaseAction.IMPORT_RUN) -> Agency:
    """The agency an actor may import for (or read the imports of): the system on the command line acting for the
    agency the operator chose with ``--owner``, or the agency's administrator — not a privacy officer who does no
    casework (``Actor.reads_cases``): an import registers clients and its report names them. Anyone else is
    refused, and the refusal audited."""
    agency = actor.agency
    if agency is not None and (actor.is_system or (actor.administers_agency and actor.reads_cases)):
        return agency
    refuse(
        actor=actor,
        action=action,
        reason=AgencyReason.NOT_AGENCY_ADMIN,
        error=Forbidden(gettext("kintone からの移行は機関管理者のみが行えます。")),
    )


def _load_mapping(text: str) -> kintone.Mapping:
    try:
        return kintone.load_mapping(text)
    except kintone.MappingError as exc:
        raise InvalidInput({"mapping": list(exc.messages)}) from exc


def _agencies(mapping: kintone.Mapping) -> dict[str, Agency]:
    codes = set(mapping.agency_codes())
    return {agency.code: agency for agency in Agency.objects.filter(code__in=codes)}


def _users(mapping: kintone.Mapping) -> dict[str, tuple[Any, Agency | None]]:
    usernames = set(mapping.usernames())
    users = {user.get_username(): user for user in get_user_model().objects.filter(username__in=usernames)}
    staff = {s.user_id: s.agency for s in Staff.objects.filter(user__in=users.values()).select_related("agency")}
    return {name: (user, staff.get(user.pk)) for name, user in users.items() if user.pk in staff}


def _origin(ctx: _Context, plan: RecordPlan, *, created: bool | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"run": str(ctx.run.pk), "app": ctx.run.app_id, "record": plan.record_id[:64]}
    if created is not None:
        details["created"] = created
    return details


def _summary_event(ctx: _Context) -> None:
    run = ctx.run
    with transaction.atomic():
        audit_record(
            actor=ctx.actor,
            action=CaseAction.IMPORT_RUN,
            outcome="allowed" if run.status == ImportRunStatus.DONE else "error",
            reason="" if run.status == ImportRunStatus.DONE else run.status,
            client_ids=sorted(ctx.exposed),
            target_type="import_run",
            target_id=run.pk,
            details={
                "source": run.source,
                "app": run.app_id,
                "dry_run": run.dry_run,
                "status": run.status,
                "processed": run.processed,
                **{f"n_{key}": value for key, value in sorted(run.counts.items())},
            },
        )


def _count(counts: dict[str, int], outcome: _Outcome) -> None:
    counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    counts["entries"] = counts.get("entries", 0) + outcome.entries
    counts["shares"] = counts.get("shares", 0) + outcome.shares
    if outcome.items:
        counts["items_skipped"] = counts.get("items_skipped", 0) + len(outcome.items)


def _report_lines(run: ImportRun, item: KRecord | BadRecord, outcome: _Outcome) -> Iterator[ImportReportLine]:
    """The record's line, then a line for each part of it that was left out (positions are set by the caller)."""
    yield ImportReportLine(
        run=run,
        position=0,
        record_id=item.record_id[:64],
        where=item.where[:64],
        outcome=outcome.outcome,
        reason=outcome.reason,
        message=outcome.message,
        case_number=outcome.case_number,
        entries=outcome.entries,
        shares=outcome.shares,
    )
    for problem in outcome.items:
        yield ImportReportLine(
            run=run,
            position=0,
            record_id=item.record_id[:64],
            where=item.where[:64],
            item=problem.item[:80],
            outcome="item_skipped",
            reason=problem.reason,
            message=problem.message,
        )


def _messages(exc: InvalidInput) -> str:
    return " / ".join(f"{name}: {message}" for name, messages in exc.errors.items() for message in messages)
