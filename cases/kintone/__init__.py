"""Reading what kintone gives out: its REST API JSON (records and record comments, as saved by its endpoints or
its command-line tool) and its CSV export, and the mapping file that says which kintone field becomes what.

Pure: no models, no audit, no database. ``cases.services.imports`` is the audited path that turns what this package
reads into clients, shares and timeline entries.
"""

from .comments import CommentIndex, Comments, read_comments
from .errors import ExportError
from .mapping import Mapping, MappingError, load_mapping
from .readers import count_records, read_records

__all__ = [
    "CommentIndex",
    "Comments",
    "ExportError",
    "Mapping",
    "MappingError",
    "count_records",
    "load_mapping",
    "read_comments",
    "read_records",
]
