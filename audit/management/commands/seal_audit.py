from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.sealing import seal_pending, unsealed_count


class Command(BaseCommand):
    help = "Seal every audit event that can be sealed now (the periodic task does the same)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="events per seal (AUDIT_SEAL_BATCH_SIZE)")

    def handle(self, *args: Any, batch_size: int | None, **options: Any) -> None:
        seals = seal_pending(batch_size=batch_size)
        events = sum(seal.count for seal in seals)
        self.stdout.write(f"封印 {len(seals)} 件（記録 {events} 件）を作成しました。未封印: {unsealed_count()} 件")
        if seals:
            self.stdout.write(f"latest seal #{seals[-1].pk} {seals[-1].seal_hash}")
