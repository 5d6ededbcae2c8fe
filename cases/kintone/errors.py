"""The one error the readers raise: an export that cannot be read as a whole (a truncated JSON file, a CSV without a
record id column). A single bad record is not an error: it is a ``BadRecord`` in the stream and the run goes on."""

from __future__ import annotations


class ExportError(Exception):
    """The export file itself is unusable. The message is Japanese, for the person running the import."""
