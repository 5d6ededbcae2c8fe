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


@register.filter
def file_size(size: int | None) -> str:
    """A file's size as people read it: 980 B, 12.3 KB, 1.2 MB (the same as the entry form's list)."""
    size = int(size or 0)
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} B"


@register.filter
def file_badge(filename: str) -> str:
    """The short type mark of a file's icon: its extension in capitals (PDF, DOCX…), at most five letters."""
    _, dot, extension = (filename or "").rpartition(".")
    return extension[:5].upper() if dot and extension.isascii() else "FILE"
