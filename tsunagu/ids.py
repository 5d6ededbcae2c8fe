"""Identifiers from the outside world (URLs, query strings, JSON) are parsed here, never trusted as they come."""

import uuid


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID ``value`` denotes, or None for anything else (None, garbage, wrong type)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
