"""The application log as production writes it (LOG_FORMAT=json), captured for a test."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tsunagu.logs import JsonFormatter, RequestContextFilter


@contextmanager
def json_log(level: int | None = None) -> Iterator[io.StringIO]:
    """The root logger also writes one JSON object per line, the request filter applied, to the yielded buffer
    (at ``level`` if given; the root level is put back afterwards)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
