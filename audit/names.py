"""Names for the codes and ids that audit events carry, for files a person reads (the CSV export): agency names
by code and case numbers by client id. The audit layer imports no domain app: the apps that own agencies and
clients register how to look them up (``register``, from their ``AppConfig.ready``); unregistered, a code or id is
its own name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Lookup = Callable[[Iterable[str]], dict[str, str]]

_LOOKUPS: dict[str, Lookup] = {}

AGENCY = "agency"  # agency code → agency name
CLIENT = "client"  # client id → case number


def register(kind: str, lookup: Lookup) -> None:
    _LOOKUPS[kind] = lookup


def names(kind: str, values: Iterable[str]) -> dict[str, str]:
    """``{value: name}`` for every value the owning app knows (one query per call)."""
    wanted = sorted({str(v) for v in values if v})
    lookup = _LOOKUPS.get(kind)
    if not wanted or lookup is None:
        return {}
    return lookup(wanted)
