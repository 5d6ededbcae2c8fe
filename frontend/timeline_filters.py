"""The client page's timeline filters: kind, agency, period and a text search, read from the browser's request.

Kind, agency and period travel in the page's URL (``f_kind``, ``f_agency``, ``f_from``, ``f_to``), so a filtered
timeline can be bookmarked and paged. The search text can name a person, and names stay out of URLs (access logs,
browser history — as in the client search): the filter form is POSTed, the text is kept in the session for that
one client, and the URL carries only ``f_text=1`` ("with the search text"). A page opened without that mark, or
for another client, drops the kept text. The selector (``cases.selectors.timeline_list``) does the filtering,
checks the values that are about the domain (kinds, lengths, the period's order) and audits the read.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.models import USER_ENTRY_KINDS, EntryKind
from cases.selectors import MAX_QUERY

URL_FIELDS = ("f_kind", "f_agency", "f_from", "f_to")
TEXT_FIELD = "f_q"
TEXT_MARK = "f_text"
SESSION_KEY = "timeline_search"

SYSTEM_KINDS = tuple(k for k in EntryKind if k not in USER_ENTRY_KINDS)
# Two choices that stand for several kinds: the people's records only, or the system's records only.
KIND_GROUPS = {"records": USER_ENTRY_KINDS, "system": SYSTEM_KINDS}

# Which form field shows an error the selector reports under its own name.
ERROR_FIELDS = {"kind": "f_kind", "q": "f_q", "since": "f_from", "until": "f_to"}

_DAY = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


def kind_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The kind filter's choices in two groups: the kinds people write, and the system's records."""
    return [
        (
            str(_("支援記録")),
            [
                ("records", str(_("支援記録のみ（システム記録を除く）"))),
                *((k.value, str(k.label)) for k in USER_ENTRY_KINDS),
            ],
        ),
        (
            str(_("システム記録")),
            [("system", str(_("システム記録のみ"))), *((k.value, str(k.label)) for k in SYSTEM_KINDS)],
        ),
    ]


def _parse_day(text: str) -> date | None:
    """``2026-11-20`` (what a date field sends), also typed as ``2026/11/20`` or in full-width digits."""
    match = _DAY.match(unicodedata.normalize("NFKC", text))
    if not match:
        raise ValueError(text)
    return date(*(int(part) for part in match.groups()))


@dataclass
class TimelineFilters:
    kind: str = ""
    agency: str = ""
    since_text: str = ""
    until_text: str = ""
    q: str = ""
    since: date | None = None
    until: date | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data) -> "TimelineFilters":
        """From the request's values (the URL's, or the form's with ``f_q``)."""
        values = {name: str(data.get(name, "")).strip() for name in (*URL_FIELDS, TEXT_FIELD)}
        filters = cls(
            kind=values["f_kind"],
            agency=values["f_agency"],
            since_text=values["f_from"],
            until_text=values["f_to"],
            q=values[TEXT_FIELD][: MAX_QUERY + 1],  # one more than allowed: the selector says it is too long
        )
        for name, text in (("since", filters.since_text), ("until", filters.until_text)):
            if not text:
                continue
            try:
                setattr(filters, name, _parse_day(text))
            except ValueError:
                message = gettext("日付は 2026-11-20 のように年-月-日で入力してください。")
                filters.errors[name] = [message]
        return filters

    @property
    def active(self) -> bool:
        return any((self.kind, self.agency, self.since_text, self.until_text, self.q))

    def selector_kwargs(self) -> dict:
        kinds = KIND_GROUPS.get(self.kind, self.kind)
        return {"kind": kinds, "agency_code": self.agency, "q": self.q, "since": self.since, "until": self.until}

    def url_params(self) -> dict[str, str]:
        """What the page's URL carries: the filters but the text, and the mark that the kept text applies."""
        params = dict(
            zip(URL_FIELDS, (self.kind, self.agency, self.since_text, self.until_text), strict=True),
        )
        if self.q:
            params[TEXT_MARK] = "1"
        return {k: v for k, v in params.items() if v}

    def query(self) -> str:
        return urlencode(self.url_params())

    def invalid_fields(self) -> set[str]:
        return {ERROR_FIELDS.get(name, name) for name in self.errors}


def keep_search_text(session, client_id, q: str) -> None:
    """Keep (or, with no text, forget) the search text for this client's timeline."""
    if q:
        session[SESSION_KEY] = {"client": str(client_id), "q": q[: MAX_QUERY + 1]}
    else:
        session.pop(SESSION_KEY, None)


def request_data(request, client_id) -> dict:
    """The values of a GET of the client page: the URL's, with the kept text when the URL asks for it (``f_text``)
    and it was kept for this client. Without the mark the kept text is dropped."""
    data = request.GET.dict()
    data.pop(TEXT_FIELD, None)
    kept = request.session.get(SESSION_KEY) or {}
    if request.GET.get(TEXT_MARK) and kept.get("client") == str(client_id):
        data[TEXT_FIELD] = kept.get("q", "")
    elif kept:
        request.session.pop(SESSION_KEY, None)
    return data
