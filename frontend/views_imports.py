"""機関管理 → kintone から移行: the agency administrator uploads an export and its mapping, reads the dry run's
report, confirms it (the real run, a task with progress) and downloads the report.

Thin adapters: the checks, the encrypted storage of the files and the queueing are ``cases.import_uploads``; the
import is ``cases.services.imports``; the reads (audited where they name clients) ``cases.import_selectors``.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from cases import import_selectors
from cases.import_report import csv_chunks, outcome_label, reason_label
from cases.import_uploads import Upload, import_confirm, import_upload, mapping_from_bytes
from cases.services.imports import require_importer
from tsunagu.downloads import content_disposition
from tsunagu.errors import InvalidInput

from .auth import web_login_required
from .forms import ImportUploadForm
from .web import FORM_ERROR_STATUS, page, web_actor


def _upload(file) -> Upload:
    return Upload(name=file.name or "", file=file, size=file.size or 0)


@web_login_required
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    """The agency's runs and the upload form; a valid upload starts a dry run and opens its page."""
    actor = web_actor(request)
    if request.method == "POST":
        require_importer(actor)  # an upload from anyone else is refused (403, audited) before it is looked at
    runs = import_selectors.import_runs(actor=actor)  # refuses (403, audited) anyone but the agency's administrator
    form = ImportUploadForm(request.POST or None, request.FILES or None) if request.method == "POST" else None
    if form is None or not form.is_valid():
        status = FORM_ERROR_STATUS if form is not None else 200
        context = {"runs": runs, "form": form or ImportUploadForm()}
        return page(request, "frontend/imports.html", context, actor=actor, status=status)
    data = form.cleaned_data
    try:
        mapping_file = data.get("mapping_file")
        mapping_text = mapping_from_bytes(mapping_file.read()) if mapping_file else data.get("mapping_text") or ""
        comments = data.get("comments")
        run = import_upload(
            actor=actor,
            records=_upload(data["records"]),
            comments=_upload(comments) if comments else None,
            mapping_text=mapping_text,
        )
    except InvalidInput as exc:
        form.add_service_errors(exc)
        context = {"runs": runs, "form": form}
        return page(request, "frontend/imports.html", context, actor=actor, status=FORM_ERROR_STATUS)
    messages.success(request, _("アップロードしました。試行（ドライラン）の結果を確認してください。"))
    return HttpResponseRedirect(reverse("frontend:import_detail", args=[run.pk]))


@web_login_required
@require_GET
def import_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    """A run: its progress while it runs (polled), then its counts and the first lines of its report."""
    actor = web_actor(request)
    view = import_selectors.import_run_get(actor=actor, run_id=run_id)
    report = None
    rows: list = []
    if view.finished:
        report = import_selectors.import_report(actor=actor, run_id=run_id)
        view = report.run
        rows = [(line, outcome_label(line.outcome), reason_label(line.reason)) for line in report.lines]
    context = {"view": view, "report": report, "rows": rows}
    return page(request, "frontend/import_detail.html", context, actor=actor)


@web_login_required(activity=False)
@require_GET
def import_status(request: HttpRequest, run_id: str) -> HttpResponse:
    """The progress fragment, polled every 2 s while the run is pending or running; once it is over the whole page
    is reloaded (its report). A poll is not activity."""
    actor = web_actor(request)
    view = import_selectors.import_run_get(actor=actor, run_id=run_id)
    if view.finished:
        return HttpResponseClientRefresh()
    return page(request, "frontend/_import_progress.html", {"view": view}, actor=actor)


@web_login_required
@require_POST
def import_confirm_view(request: HttpRequest, run_id: str) -> HttpResponse:
    """「この内容で取り込む」: the real run of a finished dry run, with the same files and mapping."""
    actor = web_actor(request)
    try:
        run = import_confirm(actor=actor, run_id=run_id)
    except InvalidInput as exc:
        for texts in exc.errors.values():
            for text in texts:
                messages.error(request, text)
        return HttpResponseRedirect(reverse("frontend:import_detail", args=[run_id]))
    messages.success(request, _("取り込みを開始しました。"))
    return HttpResponseRedirect(reverse("frontend:import_detail", args=[run.pk]))


@web_login_required
@require_GET
def import_report_csv(request: HttpRequest, run_id: str) -> StreamingHttpResponse:
    """The whole report as CSV (UTF-8 with a BOM for Excel), streamed; audited as ``import.report``."""
    actor = web_actor(request)
    run = import_selectors.import_report_download(actor=actor, run_id=run_id)
    kind = _("試行") if run.dry_run else _("取込")
    stamp = timezone.localtime(run.created_at).strftime("%Y%m%d-%H%M")
    filename = _("kintone取込レポート_%(kind)s_%(stamp)s.csv") % {"kind": kind, "stamp": stamp}
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in csv_chunks(run)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
