from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agencies.actors import Actor
from cases.webhooks import webhook_register
from tsunagu.errors import DomainError


class Command(BaseCommand):
    help = "Register a webhook endpoint for an agency administrator's agency; prints the signing secret last."

    def add_arguments(self, parser):
        parser.add_argument("username", help="an agency administrator of the receiving agency")
        parser.add_argument("url", help="https://… endpoint of the partner system")

    def handle(self, *args, username, url, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"ユーザー {username} は存在しません。")
        try:
            endpoint, secret = webhook_register(actor=Actor.for_user(user, channel="cli"), url=url)
        except DomainError as exc:
            errors = getattr(exc, "errors", None)
            raise CommandError(" ".join(m for ms in errors.values() for m in ms) if errors else exc.message) from None
        self.stdout.write(f"Webhook を登録しました: {endpoint.url}（{endpoint.agency.name}）。署名用シークレット:")
        self.stdout.write(secret)
