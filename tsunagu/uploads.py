"""A bound on what one request may upload, checked while the body arrives.

Django streams large uploads to temporary files, so a body is never held in memory; but without a bound a single
request could fill the disk before any view checks a size. This handler, first in ``FILE_UPLOAD_HANDLERS``, counts
the bytes of every file part and stops the request (413) past twice the per-entry limit. Below that, the
attachment check (``cases.attachments.check``) refuses a file too large with a message naming it.

The kintone import's upload (``IMPORT_UPLOAD_PATH``: an export of a whole app) may be larger: there the bound is
``IMPORT_MAX_UPLOAD`` (plus a little for the form), and the import's form refuses a larger file with a message.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

IMPORT_UPLOAD_PATH = "/agency/imports/"
FORM_SLACK = 1024 * 1024  # the mapping pasted as text and the other fields


def upload_limit(path: str) -> int:
    """How many bytes of files a request to ``path`` may carry."""
    limit = 2 * settings.ATTACHMENT_MAX_ENTRY_BYTES
    if path == IMPORT_UPLOAD_PATH:
        limit = max(limit, settings.IMPORT_MAX_UPLOAD + FORM_SLACK)
    return limit


class BoundedUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0
        self.limit = upload_limit(getattr(request, "path_info", "") or "")

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise RequestDataTooBig("The uploaded files exceed the limit.")
        return raw_data  # the next handler stores it

    def file_complete(self, file_size):
        return None  # the next handler makes the file
