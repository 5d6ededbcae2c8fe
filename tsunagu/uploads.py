"""A bound on what one request may upload, checked while the body arrives.

Django streams large uploads to temporary files, so a body is never held in memory; but without a bound a single
request could fill the disk before any view checks a size. This handler, first in ``FILE_UPLOAD_HANDLERS``, counts
the bytes of every file part and stops the request (413) past twice the per-entry limit. Below that, the
attachment check (``cases.attachments.check``) refuses a file too large with a message naming it.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler


class BoundedUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > 2 * settings.ATTACHMENT_MAX_ENTRY_BYTES:
            raise RequestDataTooBig("The uploaded files exceed the limit.")
        return raw_data  # the next handler stores it

    def file_complete(self, file_size):
        return None  # the next handler makes the file
