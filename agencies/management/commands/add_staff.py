import sys

from django.core.management.base import BaseCommand, CommandError

from agencies.models import Role
from agencies.services import staff_create
from tsunagu.errors import DomainError

from ._common import as_command_error, cli_actor


class Command(BaseCommand):
    help = "Create a staff user of an agency."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--agency", required=True, help="agency code")
        parser.add_argument("--role", required=True, help=f"one of: {', '.join(Role.values)}")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        parser.add_argument("--privacy-officer", action="store_true", help="may review the audit log")

    def handle(self, *args, username, agency, role, display_name, password_stdin, privacy_officer, **options):
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: 標準入力にパスワードがありません。")
        try:
            staff = staff_create(
                actor=cli_actor(),
                username=username,
                agency_code=agency,
                role=role,
                display_name=display_name,
                password=password,
                is_privacy_officer=privacy_officer,
            )
        except DomainError as exc:
            raise as_command_error(exc) from None
        login = "" if password else "（パスワード未設定: ログイン不可、APIキー専用）"
        self.stdout.write(f"職員を作成しました: {username} / {staff.agency.name} / {staff.get_role_display()}{login}")
