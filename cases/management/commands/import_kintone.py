from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone, translation

from agencies.actors import Actor
from agencies.models import Agency
from cases import import_report
from cases.models import ImportRunStatus
from cases.services.imports import import_kintone, import_start
from tsunagu.errors import DomainError, InvalidInput


class Command(BaseCommand):
    help = (
        "Import clients, their support records (table rows) and record comments from a kintone export (the REST "
        "API's records JSON, or the CSV of ファイルに書き出す) into the agency given by --owner, as the mapping "
        "file says. With --dry-run nothing is imported: the report says what would be. Every run writes its report "
        "as CSV (--report). Running it again adds only what is new; an interrupted run is continued by running it "
        "again. Exit 0 when the run finished (records may still have been skipped: see the report)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--records", required=True, type=Path, help="records.json or the exported CSV")
        parser.add_argument("--comments", type=Path, help="directory of saved record comments (<record id>.json)")
        parser.add_argument("--mapping", required=True, type=Path, help="the mapping file (TOML)")
        parser.add_argument("--owner", required=True, help="code of the agency that will own the clients")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; import nothing")
        parser.add_argument("--report", type=Path, help="where to write the report CSV (default: in this directory)")

    def handle(self, *args: Any, **options: Any) -> None:
        records: Path = options["records"]
        comments: Path | None = options["comments"]
        if not records.is_file():
            raise CommandError(f"records file not found: {records}")
        if comments is not None and not comments.is_dir():
            raise CommandError(f"comments directory not found: {comments}")
        try:
            mapping_text = options["mapping"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the mapping file {options['mapping']}: {exc}") from exc
        owner = Agency.objects.filter(code=options["owner"]).first()
        if owner is None:
            raise CommandError(f"unknown agency: {options['owner']}")
        actor = Actor(user=None, agency=owner, role="", is_privacy_officer=False, channel="cli")
        dry_run = options["dry_run"]
        with translation.override("ja"):
            try:
                run = import_start(actor=actor, mapping_text=mapping_text, dry_run=dry_run)
            except InvalidInput as exc:
                raise CommandError(
                    "the mapping file has problems:\n  " + "\n  ".join(m for ms in exc.errors.values() for m in ms)
                ) from exc
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            run = import_kintone(actor=actor, run=run, records=records, comments=comments, progress=self._progress)
            report = options["report"] or Path(
                f"kintone-import-{timezone.localtime():%Y%m%d-%H%M%S}{'-dry-run' if dry_run else ''}.csv"
            )
            import_report.write_csv(run, str(report))
        self.stderr.write("")  # past the progress line
        counts = run.counts
        summary = ", ".join(
            f"{name}: {counts.get(name, 0)}"
            for name in ("created", "updated", "unchanged", "skipped", "error", "entries", "shares", "items_skipped")
        )
        self.stdout.write(
            f"{'dry run (nothing imported)' if dry_run else 'imported'}: {run.processed} records; {summary}"
        )
        self.stdout.write(f"report: {report}")
        if run.status != ImportRunStatus.DONE:
            raise CommandError(f"the run did not finish: {run.error or run.status}")

    def _progress(self, processed: int, total: int | None) -> None:
        self.stderr.write(f"  {processed}/{total if total is not None else '?'} records", ending="\r")
