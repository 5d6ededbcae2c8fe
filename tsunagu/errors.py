"""Domain errors raised by services and selectors; each interface maps them to its own response.

``NotFound`` is raised alike for a missing object and for one the actor may not see, so that nothing reveals
whether a hidden client exists.

Messages are translated at the source: services raise them with ``gettext`` (the defaults here are lazy), so the
reader sees them in the language of the request (Japanese by default, also in the API), a task or a command in
Japanese.
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base class. ``message`` is safe to show to the actor, in the language active where it was raised."""

    default_message = _("エラーが発生しました。")

    def __init__(self, message: str | None = None):
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class NotFound(DomainError):
    default_message = _("見つかりません。")


class Forbidden(DomainError):
    default_message = _("この操作を行う権限がありません。")


class InvalidInput(DomainError):
    """Bad input. ``errors`` maps field names to lists of messages."""

    default_message = _("入力内容に誤りがあります。")

    def __init__(self, errors: dict[str, list[str]] | str, message: str | None = None):
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        self.errors = errors
        super().__init__(message)


class Conflict(DomainError):
    default_message = _("他の操作と競合しました。")


class Gone(DomainError):
    """The object existed and may be seen, but its content was removed (retention)."""

    default_message = _("保存期間を過ぎたため削除されました。")


class Unavailable(DomainError):
    """It cannot be done now (a file failed its integrity check, a scanner or storage is out of reach): nothing
    changed; the operators have been told or the request may be repeated later."""

    default_message = _("現在この操作を行えません。しばらくしてから再度お試しください。")
