"""Time periods ``[since, until)`` given to a search or report: both bounds timezone-aware, ``since`` before
``until``. One rule for the review functions, the audit selectors and the API's query parameters."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import InvalidInput

REQUIRED = _("期間を指定してください。")
NOT_AWARE = _("日時はタイムゾーン付きで指定してください。")
NOT_ORDERED = _("終了日時は開始日時より後にしてください。")


def period_errors(since, until, *, required: bool = False) -> dict[str, list[str]]:
    """The field errors of a period (empty when it is valid). A missing bound is an error only when
    ``required``; the order is checked once both bounds are valid."""
    errors: dict[str, list[str]] = {}
    for name, value in (("since", since), ("until", until)):
        if value is None:
            if required:
                errors[name] = [str(REQUIRED)]
        elif not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = [str(NOT_AWARE)]
    if not errors and since is not None and until is not None and since >= until:
        errors["until"] = [str(NOT_ORDERED)]
    return errors


def check_period(since, until, *, required: bool = False) -> None:
    """Raise ``InvalidInput`` with the period's field errors, if any."""
    errors = period_errors(since, until, required=required)
    if errors:
        raise InvalidInput(errors)
