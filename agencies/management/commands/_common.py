"""Shared by the provisioning commands: the CLI actor and one-line errors."""

from django.core.management.base import CommandError

from agencies.actors import Actor
from tsunagu.errors import DomainError, InvalidInput


def cli_actor() -> Actor:
    return Actor.system(channel="cli")


def as_command_error(exc: DomainError) -> CommandError:
    if isinstance(exc, InvalidInput):
        message = " ".join(msg for msgs in exc.errors.values() for msg in msgs)
    else:
        message = exc.message
    return CommandError(message)
