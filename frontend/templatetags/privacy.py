"""Template filters for the audit console: the audit log's codes in the reader's language."""

from django import template

from audit import actions
from audit.models import AnomalyRule, AuthorisedBy, Channel, FlagStatus, Outcome

register = template.Library()


def _label(choices, code: str) -> str:
    return str(choices(code).label) if code in choices.values else (code or "")


@register.filter
def action_label(code: str) -> str:
    return actions.label(code or "")


@register.filter
def outcome_label(code: str) -> str:
    return _label(Outcome, code)


@register.filter
def channel_label(code: str) -> str:
    return _label(Channel, code)


@register.filter
def rule_label(code: str) -> str:
    return _label(AnomalyRule, code)


@register.filter
def flag_status_label(code: str) -> str:
    return _label(FlagStatus, code)


@register.filter
def basis_label(authorised_by: str) -> str:
    return AuthorisedBy.label_of(authorised_by)
