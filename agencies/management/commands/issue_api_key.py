from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agencies.services import apikey_issue
from tsunagu.errors import DomainError

from ._common import as_command_error, cli_actor


class Command(BaseCommand):
    help = (
        "Issue an API key for an integration user (people issue their own in the browser). The key is printed once,"
        " alone, on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. 社協ケース管理システム")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument(
            "--read-only", action="store_true", help="the key may only read (GET); its writes are refused and audited"
        )

    def handle(self, *args, username, name, expires_in_days, read_only, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"ユーザー {username} は存在しません。")
        try:
            key, plain = apikey_issue(
                actor=cli_actor(), user=user, name=name, expires_in_days=expires_in_days, read_only=read_only
            )
        except DomainError as exc:
            raise as_command_error(exc) from None
        expiry = f"、期限 {key.expires_at:%Y-%m-%d}" if key.expires_at else ""
        expiry += "、閲覧専用" if read_only else ""
        self.stdout.write(f"APIキーを発行しました（{key.name}{expiry}）。この表示は一度きりです:")
        self.stdout.write(plain)
