"""``python manage.py seed_demo``: a fictional 三条市 (Sanjo, Niigata) for trying Tsunagu out.

The data is in ``cases.demo.data``, the seeder in ``cases.demo.seeder``. All or nothing (one transaction), and
idempotent: when the demo agencies and logins already exist it says so and changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agencies.management.commands._common import as_command_error
from cases.demo.data import AGENCIES, DEMO_LOGINS, DEMO_MFA_SECRETS, DEMO_PASSWORD, STAFF
from cases.demo.seeder import DemoConflict, Tally, build_demo, demo_already_seeded, enrol_demo_second_factors
from tsunagu.errors import DomainError


class Command(BaseCommand):
    help = "Create demo data for 三条市: agencies, staff, clients, shares and timelines (in Japanese)."

    def handle(self, *args, verbosity: int, **options):
        try:
            seeded = demo_already_seeded()
        except DemoConflict as exc:
            raise CommandError(str(exc)) from None
        if seeded:
            enrol_demo_second_factors()  # a demo seeded before second factors existed gets them; else no-op
            if verbosity >= 1:
                self.stdout.write("デモデータは既に作成されています（変更はありません）。")
                self._write_logins()
            return
        try:
            with transaction.atomic():
                tally = build_demo()
        except DomainError as exc:
            error = as_command_error(exc)
            raise CommandError(f"デモデータを作成できませんでした（何も変更していません）: {error}") from None
        if verbosity >= 1:
            self._write_summary(tally)
            self._write_logins()

    def _write_summary(self, tally: Tally) -> None:
        shares = tally.shares
        self.stdout.write(
            "デモデータを作成しました（新潟県三条市・架空のデータ）。\n"
            f"  関係機関 {len(AGENCIES)}、職員 {len(STAFF)}、"
            f"支援対象者 {tally.clients}（支援中 {tally.clients - tally.closed}・終結 {tally.closed}、"
            f"住所秘匿 {tally.confidential}）\n"
            f"  支援記録 {tally.entries}（うち訂正 {tally.corrections}、添付ファイル {tally.attachments}）、"
            f"他機関との共有 {shares['total']}"
            f"（閲覧 {shares['read']}・閲覧追記 {shares['append']}・管理 {shares['manage']}、"
            f"期限付き {shares['dated']}・期限切れ {shares['expired']}・解除 {shares['revoked']}）\n"
            f"  機関の間の照会 {tally.inquiries}（回答待ち・回答済み）\n"
            f"  支援会議 {tally.meetings}（参加機関 {tally.attendees}: 守秘義務の確認済み {tally.confirmed}・"
            f"未確認 {tally.attendees - tally.confirmed}、役割分担 {tally.action_items}）\n"
            f"  先週の利用履歴（監査ログ）と、そこから検知した要確認フラグ {tally.flags} 件"
        )

    def _write_logins(self) -> None:
        self.stdout.write(f"デモ用ログイン（パスワードは全員共通: {DEMO_PASSWORD}）:")
        for username, agency, role, note in DEMO_LOGINS:
            self.stdout.write(f"  {username:<11} {agency} / {role} — {note}")
        self.stdout.write("二要素認証のシークレット（確認コード: oathtool --totp -b シークレット）:")
        for username, secret in DEMO_MFA_SECRETS.items():
            self.stdout.write(f"  {username:<11} {secret}")
