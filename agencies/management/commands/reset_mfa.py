"""``python manage.py reset_mfa USERNAME``: remove a user's second factor (lost phone, used-up recovery codes).

The user enrols again at the next sign-in; a session verified by the removed device is verified no more. Audited
as ``auth.mfa_reset`` (channel ``cli``).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agencies.mfa import mfa_reset

from ._common import cli_actor


class Command(BaseCommand):
    help = "Remove a user's second factor (authenticator and recovery codes); they enrol again at the next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"ユーザー {username} は存在しません。")
        removed = mfa_reset(actor=cli_actor(), user=user)
        self.stdout.write(
            f"{username} の二要素認証をリセットしました（削除 {removed} 件）。次回ログイン時に再登録します。"
        )
