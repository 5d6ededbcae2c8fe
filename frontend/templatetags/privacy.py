"""Template filters for the audit console: the audit log's codes in the reader's language."""

from django import template

from audit import actions
from audit.models import AnomalyRule, AuthorisedBy, Channel, FlagStatus, Outcome

from ..labels import choice_label

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return actions.label(code or "")


@register.filter
def outcome_label(code: str) -> str:
    return choice_label(Outcome, code)


@register.filter
def channel_label(code: str) -> str:
    return choice_label(Channel, code)


@register.filter
def rule_label(code: str) -> str:
    return choice_label(AnomalyRule, code)


@register.filter
def flag_status_label(code: str) -> str:
    return choice_label(FlagStatus, code)


@register.filter
def basis_label(authorised_by: str) -> str:
    return AuthorisedBy.label_of(authorised_by)
