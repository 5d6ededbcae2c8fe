"""The timeline's long entries: folded to their start, with 続きを読む (``<details>``, so no script is needed)."""

from dataclasses import dataclass

from django import template

register = template.Library()

# An entry longer than this is folded (a screen of the timeline holds about this much of one entry) …
FOLD_CHARS = 400
FOLD_LINES = 8
# … to a lead of about this much, cut after a line or a sentence when one ends in its second half.
LEAD_CHARS = 200
LEAD_LINES = 4


@dataclass(frozen=True)
class Fold:
    lead: str
    length: int


def _lead(body: str) -> str:
    lines = body.split("\n")
    lead = "\n".join(lines[:LEAD_LINES])[:LEAD_CHARS]
    if len(lead) == LEAD_CHARS:
        end = max(lead.rfind("\n"), lead.rfind("。") + 1)
        if end >= LEAD_CHARS // 2:
            lead = lead[:end]
    return lead.rstrip()


@register.filter
def fold(body: str) -> Fold | None:
    """``{% with f=e.body|fold %}``: the lead of a long body and its length; None when it is short enough."""
    body = body or ""
    if len(body) <= FOLD_CHARS and body.count("\n") < FOLD_LINES:
        return None
    return Fold(lead=_lead(body), length=len(body))
