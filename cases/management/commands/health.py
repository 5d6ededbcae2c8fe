from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.health import OUTBOX_MAX_AGE_SECONDS, background_state


class Command(BaseCommand):
    help = (
        "Report background-work health: unfinished outbox messages (published or not) and the oldest one's age, "
        "pending webhooks, last audit seal and verification, last attachment verification and the attachments failed "
        "now. Non-zero exit when the outbox is stuck, the last audit verification failed or an attachment failed its "
        "integrity check. The same figures, with the database, cache, broker and disk, are served at /health/."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-outbox-age",
            type=int,
            default=OUTBOX_MAX_AGE_SECONDS,
            help=f"seconds a message may wait for its work to be done (default {OUTBOX_MAX_AGE_SECONDS})",
        )

    def handle(self, *args, max_outbox_age, **options):
        state = background_state()
        age = state.outbox_age
        self.stdout.write(
            f"outbox unfinished: {state.outbox_unfinished} ({state.outbox_unpublished} not yet published; "
            f"oldest {int(age.total_seconds())} s)"
        )
        self.stdout.write(f"webhook deliveries pending: {state.webhooks_pending}")
        seal = state.audit.seal
        self.stdout.write(
            f"last audit seal: {timezone.localtime(seal.created_at):%Y-%m-%d %H:%M:%S %Z}"
            if seal
            else "last audit seal: none"
        )
        verification = state.audit.verification
        if verification is not None:
            self.stdout.write(
                f"last verification: {'OK' if verification.ok else 'FAILED'} at {verification.ran_at:%Y-%m-%d %H:%M}"
            )
            if not verification.ok:
                raise CommandError(f"audit verification failed: {verification.message}")
        files = state.files
        if files.last_run_at is not None:
            run = files.last_run
            self.stdout.write(
                f"last attachment verification: {timezone.localtime(files.last_run_at):%Y-%m-%d %H:%M} "
                f"({run.get('checked', 0)} checked, {run.get('failed', 0)} failed)"
            )
        else:
            self.stdout.write("last attachment verification: none")
        self.stdout.write(f"attachments failing their integrity check: {files.failed_now}")
        if files.failed_now:
            raise CommandError(
                f"{files.failed_now} attachment(s) failed their integrity check and are not served "
                "(audit log: attachment.integrity_failed; python manage.py verify_attachments)"
            )
        if age.total_seconds() > max_outbox_age:
            raise CommandError(f"outbox stuck: oldest unfinished message is {int(age.total_seconds())} s old")
