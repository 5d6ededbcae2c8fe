from django.core.management.base import BaseCommand

from agencies.models import AgencyKind
from agencies.services import agency_create
from tsunagu.errors import DomainError

from ._common import as_command_error, cli_actor


class Command(BaseCommand):
    help = "Create an agency (関係機関) and its permission group."

    def add_arguments(self, parser):
        parser.add_argument("code", help="short code, e.g. sanjo-fukushi")
        parser.add_argument("--name", required=True, help="display name, e.g. 三条市 福祉課")
        parser.add_argument("--kind", required=True, help=f"one of: {', '.join(AgencyKind.values)}")

    def handle(self, *args, code, name, kind, **options):
        try:
            agency = agency_create(actor=cli_actor(), code=code, name=name, kind=kind)
        except DomainError as exc:
            raise as_command_error(exc) from None
        self.stdout.write(f"機関を作成しました: {agency.code} {agency.name}")
