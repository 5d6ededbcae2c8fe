"""Template filters for the audit console: translated labels for the audit log's codes."""

from django import template

from frontend.privacy import labels

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return labels.action_label(code or "")


@register.filter
def outcome_label(code: str) -> str:
    return labels.table_label(labels.OUTCOMES, code)


@register.filter
def channel_label(code: str) -> str:
    return labels.table_label(labels.CHANNELS, code)


@register.filter
def rule_label(code: str) -> str:
    return labels.table_label(labels.FLAG_RULES, code)


@register.filter
def flag_status_label(code: str) -> str:
    return labels.table_label(labels.FLAG_STATUSES, code)


@register.filter
def basis_label(authorised_by: str) -> str:
    return labels.basis_label(authorised_by)
