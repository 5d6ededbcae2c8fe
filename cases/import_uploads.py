"""Moving in from kintone in the browser: the agency administrator's upload, its files kept encrypted until the
import has run, the run carried out by a task, and the confirmation of a dry run.

The import itself is ``cases.services.imports`` (audited there: ``import_start``, ``import_kintone``); this module
is what the browser needs around it, so that the view and the task stay thin adapters:

- ``import_upload``: check the upload (sizes, the ZIP of comments: names, entry count, unpacked size), store the
  files encrypted (``cases.attachments.store.store_private``: a key per file, wrapped by the attachments' master
  key), start the dry run with their references in ``ImportRun.files`` and queue the task after commit.
- ``import_confirm``: the real run of a finished dry run (``carries_out``), with the same mapping and files; the
  files move to it, so that the dry run's expiry leaves them alone.
- ``import_carry_out``: the task's body. Decrypts the files into a private temporary directory (the ZIP unpacked
  there, with the same checks again), runs the import, removes the directory, and deletes the stored files once
  they are no longer needed: after the real run (done or failed), after a dry run that did not finish.
- ``import_files_expire``: a dry run's files are kept ``IMPORT_DRY_RUN_KEEP_HOURS`` for the confirmation, no longer.

The task is queued by name after commit (``transaction.on_commit``, robust: a broker outage leaves the run pending,
it does not fail the request), like the audit log's CSV export. The pending run's row is what makes that durable:
``import_requeue`` (beat, every minute) queues again a run nobody has taken, so a broker outage delays an import
and loses none. The outbox carries only notification topics (its consumer fans out notices and webhooks), so it is
not used here.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agencies.actors import Actor
from audit.refusals import Refusal, refusals_audited
from tsunagu import errors
from tsunagu.errors import DomainError, InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from .actions import CaseAction
from .attachments.errors import Tampered, Unavailable
from .attachments.store import PrivateRef, discard_private, display_name, open_private, store_private
from .kintone.mapping import MappingError, load_mapping
from .models import ImportRun, ImportRunStatus
from .services.imports import import_kintone, import_start, require_importer

log = logging.getLogger(__name__)

RUN_IMPORT_TASK = "cases.tasks.run_import"  # queued by name: tasks import this module, never the reverse
MAX_MAPPING_BYTES = 256 * 1024  # a mapping names fields and codes: anything larger is not one
COMMENT_FILE_MAX_BYTES = 16 * 1024 * 1024  # one saved comments response (10 comments)
COPY_CHUNK = 64 * 1024
ABANDONED_AFTER = timedelta(days=7)
FINISHED = (ImportRunStatus.DONE, ImportRunStatus.FAILED, ImportRunStatus.INTERRUPTED)
RECORD_SUFFIXES = (".json", ".csv", ".tsv", ".txt")
# What archivers add beside the files: skipped, never unpacked.
ZIP_JUNK_FOLDERS = frozenset({"__MACOSX"})
FILES_EXPIRED = _("アップロードしたファイルの保存期間が過ぎました。もう一度アップロードしてください。")
FILES_UNREADABLE = _("アップロードしたファイルを読み出せませんでした。もう一度アップロードしてください。")


@dataclass(frozen=True)
class Upload:
    """A file as received (Django's ``UploadedFile`` has these): the sender's name, the content, its size."""

    name: str
    file: IO[bytes]
    size: int


# --- who may -----------------------------------------------------------------------------------------------------


# --- the ZIP of comments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipMember:
    info: zipfile.ZipInfo
    target: PurePosixPath  # where it is unpacked, relative to the comments directory


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _unsafe_name(name: str) -> bool:
    """A name that could leave the directory it is unpacked into, or that no file system takes."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or ":" in name:
        return True
    return any(part in ("", ".", "..") for part in name.rstrip("/").split("/"))


def _junk(parts: tuple[str, ...]) -> bool:
    return parts[0] in ZIP_JUNK_FOLDERS or any(part.startswith(".") for part in parts)


def zip_members(archive: zipfile.ZipFile) -> list[ZipMember]:
    """The comment files of the ZIP and where each is unpacked; ``InvalidInput`` (``comments``) when the ZIP is
    not acceptable. Accepted: ``*.json`` files at the top or one folder deep (``<record id>.json``,
    ``<record id>_<n>.json``, ``<record id>/<n>.json``), also all inside one folder (a folder zipped as a whole).
    Refused: a name that leaves the folder (``..``, absolute, drive, backslash), a link, an encrypted entry, any
    other file, deeper folders, more than ``IMPORT_ZIP_MAX_ENTRIES`` entries, more than ``IMPORT_ZIP_MAX_BYTES``
    unpacked, a file over 16 MB. Folders and what archivers add (``__MACOSX/``, dot files) are skipped."""
    infos = archive.infolist()

    def refused(message: str) -> InvalidInput:
        return InvalidInput({"comments": [message]})

    if len(infos) > settings.IMPORT_ZIP_MAX_ENTRIES:
        raise refused(
            gettext("コメントの ZIP のファイルが多すぎます（%(limit)d件まで）。")
            % {"limit": settings.IMPORT_ZIP_MAX_ENTRIES}
        )
    kept: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    total = 0
    for info in infos:
        if _unsafe_name(info.filename):
            raise refused(gettext("コメントの ZIP に使えない名前があります: %(name)s") % {"name": info.filename[:200]})
        if _is_symlink(info):
            raise refused(gettext("コメントの ZIP にリンクがあります: %(name)s") % {"name": info.filename[:200]})
        if info.is_dir():
            continue
        parts = tuple(info.filename.split("/"))
        if _junk(parts):
            continue
        if info.flag_bits & 0x1:
            raise refused(gettext("パスワード付きの ZIP は使えません。"))
        if not parts[-1].lower().endswith(".json"):
            raise refused(
                gettext("コメントの ZIP には JSON ファイルだけを入れてください: %(name)s")
                % {"name": info.filename[:200]}
            )
        if info.file_size > COMMENT_FILE_MAX_BYTES:
            raise refused(
                gettext("コメントのファイルが大きすぎます（1ファイル%(limit)sまで）: %(name)s")
                % {"limit": _megabytes(COMMENT_FILE_MAX_BYTES), "name": info.filename[:200]}
            )
        total += info.file_size
        kept.append((info, parts))
    if total > settings.IMPORT_ZIP_MAX_BYTES:
        raise refused(
            gettext("コメントの ZIP を展開すると大きすぎます（%(limit)sまで）。")
            % {"limit": _megabytes(settings.IMPORT_ZIP_MAX_BYTES)}
        )
    # One folder around everything (the folder was zipped, not its files): unpack its content.
    tops = {parts[0] for _, parts in kept}
    wrapped = len(tops) == 1 and all(len(parts) > 1 for _, parts in kept)
    members: list[ZipMember] = []
    seen: set[str] = set()
    for info, parts in kept:
        inner = parts[1:] if wrapped else parts
        if len(inner) > 2:
            raise refused(
                gettext("コメントの ZIP のフォルダが深すぎます（1段まで）: %(name)s") % {"name": info.filename[:200]}
            )
        target = PurePosixPath(*inner)
        if str(target).lower() in seen:
            raise refused(gettext("コメントの ZIP に同じ名前のファイルがあります: %(name)s") % {"name": str(target)})
        seen.add(str(target).lower())
        members.append(ZipMember(info, target))
    return members


def open_zip(file: IO[bytes]) -> zipfile.ZipFile:
    """The ZIP, or ``InvalidInput`` (``comments``) when it is none."""
    try:
        file.seek(0)
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise InvalidInput({"comments": [gettext("コメントのファイルを ZIP として読めません。")]}) from None


def unpack_comments(file: IO[bytes], directory: Path) -> Path:
    """Unpack the ZIP's comment files into ``directory`` (checked again as on upload: ``zip_members``), counting
    the bytes really written rather than trusting the sizes the ZIP declares. Returns ``directory``."""
    with open_zip(file) as archive:
        members = zip_members(archive)
        root = directory.resolve()
        written_total = 0
        for member in members:
            target = (root / member.target).resolve()
            if root not in target.parents:  # cannot happen after zip_members; kept as the last line of defence
                raise InvalidInput({"comments": [gettext("コメントの ZIP に使えない名前があります。")]})
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out, archive.open(member.info) as source:
                written = 0
                while chunk := source.read(COPY_CHUNK):
                    written += len(chunk)
                    written_total += len(chunk)
                    if written > COMMENT_FILE_MAX_BYTES or written_total > settings.IMPORT_ZIP_MAX_BYTES:
                        raise InvalidInput({"comments": [gettext("コメントの ZIP を展開すると大きすぎます。")]})
                    out.write(chunk)
    return directory


# --- upload, confirm ----------------------------------------------------------------------------------------------


def mapping_from_bytes(data: bytes) -> str:
    """An uploaded mapping file as text (UTF-8, with or without a BOM); ``InvalidInput`` (``mapping``)."""
    if len(data) > MAX_MAPPING_BYTES:
        raise InvalidInput({"mapping": [gettext("対応表が大きすぎます（256 KB まで）。")]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"mapping": [gettext("対応表は UTF-8 の TOML ファイルにしてください。")]}) from None


def _check_upload(records: Upload, comments: Upload | None, mapping_text: str) -> None:
    errors: dict[str, list[str]] = {}
    limit = settings.IMPORT_MAX_UPLOAD
    if records.size <= 0:
        errors["records"] = [gettext("レコードのファイルが空です。")]
    total = max(records.size, 0) + (max(comments.size, 0) if comments else 0)
    if total > limit:
        errors["records"] = [
            gettext("アップロードするファイルが大きすぎます（合計%(limit)sまで）。") % {"limit": _megabytes(limit)}
        ]
    if not mapping_text.strip():
        errors["mapping"] = [gettext("対応表を指定してください（ファイルまたは貼り付け）。")]
    elif len(mapping_text.encode("utf-8")) > MAX_MAPPING_BYTES:
        errors["mapping"] = [gettext("対応表が大きすぎます（256 KB まで）。")]
    else:
        try:
            load_mapping(mapping_text)  # checked before anything is stored; the import checks again
        except MappingError as exc:
            errors["mapping"] = list(exc.messages)
    if comments is not None:
        try:
            with open_zip(comments.file) as archive:
                zip_members(archive)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)


def _store(upload: Upload, kind: str) -> dict[str, Any]:
    upload.file.seek(0)
    ref = store_private(upload.file)
    suffix = Path(display_name(upload.name)).suffix.lower()
    return {**ref.as_json(), "kind": kind, "name": display_name(upload.name)[:200], "suffix": suffix}


def run_refs(files: dict[str, Any]) -> list[PrivateRef]:
    """The stored files a run's ``files`` name (references that do not parse are skipped)."""
    refs = []
    for value in (files or {}).values():
        if isinstance(value, dict):
            try:
                refs.append(PrivateRef.from_json(value))
            except Tampered:
                log.warning("import run files: a reference that does not parse was skipped")
    return refs


def _queue(run_id: object) -> None:
    current_app.tasks[RUN_IMPORT_TASK].delay(str(run_id))


def queue_run(run: ImportRun) -> None:
    """Queue the run's task once the transaction that created it has committed (at once outside one)."""
    transaction.on_commit(partial(_queue, run.pk), robust=True)


def import_upload(*, actor: Actor, records: Upload, comments: Upload | None, mapping_text: str) -> ImportRun:
    """Start a dry run of an uploaded export: checked, stored encrypted, the run created (``import_start``, which
    checks the mapping and audits), its task queued after commit. ``InvalidInput`` (``records``, ``comments``,
    ``mapping``) with nothing stored and no run; ``Forbidden`` (audited) for anyone but the agency's
    administrator; ``Unavailable`` when the file storage is unreachable."""
    require_importer(actor)
    _check_upload(records, comments, mapping_text)
    files: dict[str, Any] = {}
    try:
        files["records"] = _store(records, "records")
        if comments is not None:
            files["comments"] = _store(comments, "comments")
        run = import_start(actor=actor, mapping_text=mapping_text, dry_run=True, files=files)
        if run.files != files:
            ImportRun.objects.filter(pk=run.pk).update(files=files)
            run.files = files
    except Unavailable:
        discard_private(run_refs(files))
        raise errors.Unavailable(
            gettext("ファイルの保存先に接続できません。しばらくしてからもう一度お試しください。")
        ) from None
    except BaseException:
        discard_private(run_refs(files))
        raise
    queue_run(run)
    return run


def import_confirm(*, actor: Actor, run_id: object) -> ImportRun:
    """The real run of a finished dry run, with its mapping and files (which move to the new run). Refused as
    not found (audited) for a run of another agency or none; ``InvalidInput`` (``run``) for a run that is not a
    finished dry run, already confirmed, or whose files have expired."""
    agency = require_importer(actor)
    with (
        refusals_audited(actor=actor, action=CaseAction.IMPORT_RUN, target_type="import_run", target_id=run_id),
        transaction.atomic(),
    ):
        rid = parse_uuid(run_id)
        dry = ImportRun.objects.select_for_update().filter(pk=rid).first() if rid is not None else None
        if dry is None or dry.agency_id != agency.pk:
            raise Refusal("not_found", NotFound())
        if not dry.dry_run or dry.status != ImportRunStatus.DONE:
            raise InvalidInput({"run": [gettext("取り込めるのは完了した試行（ドライラン）だけです。")]})
        if ImportRun.objects.filter(carries_out=dry).exists():
            raise InvalidInput({"run": [gettext("この試行はすでに取り込みました。")]})
        if not dry.files:
            raise InvalidInput({"run": [str(FILES_EXPIRED)]})
        run = import_start(actor=actor, mapping_text=dry.mapping_text, dry_run=False, carries_out=dry, files=dry.files)
        if run.files != dry.files:
            ImportRun.objects.filter(pk=run.pk).update(files=dry.files)
            run.files = dry.files
        ImportRun.objects.filter(pk=dry.pk).update(files={})
        queue_run(run)
    return run


# --- the task's work ----------------------------------------------------------------------------------------------


def _fail(run: ImportRun, message: str) -> None:
    """A run that could not start (its files unreadable): failed, with why."""
    log.warning("import run %s failed before it started", run.pk)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRunStatus.FAILED, error=message[:500], finished_at=timezone.now()
    )


def _materialise(run: ImportRun, directory: Path) -> tuple[Path, Path | None]:
    """Decrypt the run's files into ``directory``: the export, and the ZIP's comments unpacked."""
    records_json = run.files.get("records")
    if not isinstance(records_json, dict):
        raise InvalidInput({"records": [str(FILES_EXPIRED)]})
    suffix = str(records_json.get("suffix", ""))
    records = open_private(
        PrivateRef.from_json(records_json), directory / ("records" + (suffix if suffix in RECORD_SUFFIXES else ""))
    )
    comments_json = run.files.get("comments")
    if not isinstance(comments_json, dict):
        return records, None
    archive = open_private(PrivateRef.from_json(comments_json), directory / "comments.zip")
    comments_dir = directory / "comments"
    comments_dir.mkdir(mode=0o700)
    with open(archive, "rb") as file:
        unpack_comments(file, comments_dir)
    archive.unlink()
    return records, comments_dir


def import_carry_out(*, run_id: object) -> ImportRun | None:
    """Carry out a pending run as the person who started it (the task's body). The run is claimed first (pending →
    running in one update), so a task delivered twice does the work once. The files are decrypted into a private
    temporary directory that is removed afterwards; the stored files are deleted when the real run is over, or
    when a dry run did not finish (a finished one keeps them for the confirmation). Returns the run, or None for a
    run that is unknown or not pending."""
    rid = parse_uuid(run_id)
    if rid is None or not ImportRun.objects.filter(pk=rid, status=ImportRunStatus.PENDING).update(
        status=ImportRunStatus.RUNNING, started_at=timezone.now()
    ):
        return None
    run = ImportRun.objects.select_related("started_by", "agency").get(pk=rid)
    actor = Actor.for_user(run.started_by, channel="task")
    try:
        with tempfile.TemporaryDirectory(prefix="tsunagu-import-") as tmp:
            directory = Path(tmp)
            os.chmod(directory, 0o700)
            try:
                records, comments = _materialise(run, directory)
            except InvalidInput as exc:
                _fail(run, " ".join(m for messages in exc.errors.values() for m in messages))
                return run
            except (Tampered, Unavailable) as exc:
                log.warning("import run %s: its files could not be read (%s)", run.pk, type(exc).__name__)
                _fail(run, str(FILES_UNREADABLE))
                return run
            except Exception:
                _fail(run, str(FILES_UNREADABLE))
                raise
            try:
                progress = partial(_progress, run.pk)
                import_kintone(actor=actor, run=run, records=records, comments=comments, progress=progress)
            except DomainError as exc:  # refused (audited): the person is no longer the agency's administrator
                _fail(run, exc.message)
    finally:
        run.refresh_from_db()
        if not run.dry_run or run.status != ImportRunStatus.DONE:
            release_files(run)
    return run


def _progress(run_id: object, processed: int, total: int | None) -> None:
    """The service saves the run's progress itself (every 100 records); the log says it now and then."""
    if processed % 1000 == 0:
        log.info("import run %s: %s of %s records", run_id, processed, total if total is not None else "?")


def release_files(run: ImportRun) -> None:
    """Forget the run's stored files, then delete them once that is committed."""
    refs = run_refs(run.files)
    if not refs and not run.files:
        return
    with transaction.atomic():
        ImportRun.objects.filter(pk=run.pk).update(files={})
        transaction.on_commit(partial(discard_private, refs))
    run.files = {}


def import_requeue() -> int:
    """Queue again the runs still pending ``IMPORT_REQUEUE_AFTER_SECONDS`` after they were created: their task was
    lost before a worker took it (the broker was down when the request committed). The run's row is the durable
    record of the work, as the outbox's are for notices; a task delivered twice does the work once (it claims the
    run). Returns how many were queued."""
    cutoff = timezone.now() - timedelta(seconds=settings.IMPORT_REQUEUE_AFTER_SECONDS)
    pending = list(
        ImportRun.objects.filter(status=ImportRunStatus.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for run_id in pending:
        _queue(run_id)
    return len(pending)


def import_files_expire() -> int:
    """Delete the files of dry runs not confirmed within ``IMPORT_DRY_RUN_KEEP_HOURS``, and of runs over whose
    task did not get to it (a worker killed). Returns how many runs lost their files."""
    cutoff = timezone.now() - timedelta(hours=settings.IMPORT_DRY_RUN_KEEP_HOURS)
    stale = (
        ImportRun.objects.exclude(files={})
        .filter(dry_run=True, created_at__lt=cutoff)
        .exclude(status=ImportRunStatus.RUNNING)
    )
    over = ImportRun.objects.exclude(files={}).filter(dry_run=False, status__in=FINISHED)
    # A run whose worker was killed stays "running": its files go after a week whatever it says.
    abandoned = ImportRun.objects.exclude(files={}).filter(created_at__lt=timezone.now() - ABANDONED_AFTER)
    released = 0
    for run in (stale | over | abandoned).distinct():
        release_files(run)
        released += 1
    return released
