"""Domain errors raised by services and selectors; each interface maps them to its own response.

``NotFound`` is raised alike for a missing object and for one the actor may not see, so that nothing reveals
whether a hidden client exists.
"""


class DomainError(Exception):
    """Base class. ``message`` is safe to show to the actor (Japanese first)."""

    default_message = "エラーが発生しました。"

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    default_message = "見つかりません。"


class Forbidden(DomainError):
    default_message = "この操作を行う権限がありません。"


class InvalidInput(DomainError):
    """Bad input. ``errors`` maps field names to lists of messages."""

    default_message = "入力内容に誤りがあります。"

    def __init__(self, errors: dict[str, list[str]] | str, message: str | None = None):
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        self.errors = errors
        super().__init__(message)


class Conflict(DomainError):
    default_message = "他の操作と競合しました。"
