"""Reads of kintone import runs for the agency administrator's pages (``cases.services.imports`` writes them).

A run's list and its progress hold no case data (counts, status, who started it, when): not audited. A run's report
names case numbers: reading it (the page's table, the CSV) is audited as ``import.report`` with the clients it
names. Only the agency's administrator reads its runs; another agency's run is not found, like a missing one, and
that refusal is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from agencies.actors import Actor
from agencies.models import Agency
from agencies.people import person_name
from audit.refusals import Refusal, refusals_audited
from audit.services import audit_record
from tsunagu.errors import NotFound
from tsunagu.ids import parse_uuid

from .actions import CaseAction
from .import_uploads import FINISHED
from .models import Client, ImportReportLine, ImportRun
from .services.imports import require_importer

REPORT_PAGE_LINES = 200


@dataclass(frozen=True)
class RunView:
    """A run as the list and the progress show it."""

    run: ImportRun
    started_by_name: str
    confirmed_by: ImportRun | None  # the real run that carried this dry run out, if any

    @property
    def finished(self) -> bool:
        return self.run.status in FINISHED

    @property
    def percent(self) -> int:
        total = self.run.total or 0
        return min(100, round(100 * self.run.processed / total)) if total else 0


@dataclass(frozen=True)
class ReportView:
    """A run and the first lines of its report; ``more``: how many lines are not shown."""

    run: RunView
    lines: list[ImportReportLine]
    more: int


def _view(run: ImportRun, confirmations: dict) -> RunView:
    return RunView(
        run=run,
        started_by_name=person_name(run.started_by) if run.started_by is not None else "",
        confirmed_by=confirmations.get(run.pk),
    )


def import_runs(*, actor: Actor, limit: int = 50) -> list[RunView]:
    """The agency's runs, newest first (agency administrators only: otherwise an audited 403)."""
    agency = require_importer(actor, CaseAction.IMPORT_REPORT)
    runs = list(ImportRun.objects.filter(agency=agency).select_related("started_by").order_by("-created_at")[:limit])
    confirmations = {run.carries_out_id: run for run in runs if run.carries_out_id is not None}
    return [_view(run, confirmations) for run in runs]


def _run_for(agency: Agency, run_id: object) -> ImportRun:
    rid = parse_uuid(run_id)
    run = ImportRun.objects.select_related("started_by").filter(pk=rid).first() if rid is not None else None
    if run is None or run.agency_id != agency.pk:
        raise Refusal("not_found", NotFound())
    return run


def _confirmations(run: ImportRun) -> dict:
    confirmed = ImportRun.objects.filter(carries_out=run).order_by("created_at").first() if run.dry_run else None
    return {run.pk: confirmed} if confirmed is not None else {}


def import_run_get(*, actor: Actor, run_id: object) -> RunView:
    """One run's status and progress (the page's polling); not audited, it shows no case data. Another agency's
    run is not found (audited)."""
    agency = require_importer(actor, CaseAction.IMPORT_REPORT)
    with refusals_audited(actor=actor, action=CaseAction.IMPORT_REPORT, target_type="import_run", target_id=run_id):
        run = _run_for(agency, run_id)
        return _view(run, _confirmations(run))


def import_report(*, actor: Actor, run_id: object, limit: int = REPORT_PAGE_LINES) -> ReportView:
    """The run with the first ``limit`` lines of its report, audited as ``import.report`` with the clients those
    lines name (by case number, within the agency: one query)."""
    agency = require_importer(actor, CaseAction.IMPORT_REPORT)
    with (
        refusals_audited(actor=actor, action=CaseAction.IMPORT_REPORT, target_type="import_run", target_id=run_id),
        transaction.atomic(),
    ):
        run = _run_for(agency, run_id)
        lines = list(run.report_lines.order_by("position")[:limit])
        count = run.report_lines.count() if len(lines) == limit else len(lines)
        numbers = {line.case_number for line in lines if line.case_number}
        client_ids = _named(numbers) if numbers else []
        audit_record(
            actor=actor,
            action=CaseAction.IMPORT_REPORT,
            client_ids=client_ids,
            target_type="import_run",
            target_id=run.pk,
            details={"kind": "page", "lines": len(lines)},
        )
        return ReportView(run=_view(run, _confirmations(run)), lines=lines, more=count - len(lines))


def _named(case_numbers: Iterable[Any]) -> list[object]:
    """The clients a report names by case number (its created and updated records, and the existing clients it
    calls likely duplicates, which another agency may own): an exposure, as on a list page. One query."""
    return list(Client.objects.filter(case_number__in=case_numbers).values_list("pk", flat=True))


def import_report_download(*, actor: Actor, run_id: object) -> ImportRun:
    """The run whose whole report is about to be downloaded (``cases.import_report.csv_chunks``), audited as
    ``import.report`` with every client the report names (one query)."""
    agency = require_importer(actor, CaseAction.IMPORT_REPORT)
    with (
        refusals_audited(actor=actor, action=CaseAction.IMPORT_REPORT, target_type="import_run", target_id=run_id),
        transaction.atomic(),
    ):
        run = _run_for(agency, run_id)
        numbers = ImportReportLine.objects.filter(run=run).exclude(case_number="").values("case_number")
        client_ids = _named(numbers)
        audit_record(
            actor=actor,
            action=CaseAction.IMPORT_REPORT,
            client_ids=client_ids,
            target_type="import_run",
            target_id=run.pk,
            details={"kind": "csv", "lines": run.report_lines.count()},
        )
    return run
