"""Template filters for the audit console: the audit log's codes in the reader's language."""

from django import template
from django.utils.translation import gettext_lazy as _

from audit import actions
from audit.models import AnomalyRule, AuthorisedBy, Channel, FlagStatus, Outcome, VerifyKind

from ..labels import choice_label

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return actions.label(code or "")


@register.filter
def event_label(event) -> str:
    """The event's action in words, with the parts a combined read names (a client page load)."""
    return actions.event_label(event.action or "", event.details)


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
def reason_label(code: str) -> str:
    return actions.reason_label(code or "")


@register.simple_tag
def flag_summary(flag, names=None) -> str:
    """A flag's summary in the reader's language, naming agencies and clients as the page does (``PageNames``)."""
    return names.summary(flag) if names is not None else flag.summary


@register.filter
def basis_label(authorised_by: str) -> str:
    return AuthorisedBy.label_of(authorised_by)


@register.filter
def verify_kind_label(code: str) -> str:
    return choice_label(VerifyKind, code)


@register.filter
def verification_channel_label(code: str) -> str:
    """How a verification ran: the nightly task or ``verify_audit`` by hand."""
    return str(_("手動で実行") if code == Channel.CLI else _("定期実行"))
