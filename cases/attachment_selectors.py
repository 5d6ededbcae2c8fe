"""Reading attachments: the permission-checked, audited path of every download and thumbnail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from agencies.actors import Actor

from .read_models import AttachmentView


@dataclass(frozen=True)
class Download:
    """An attachment's content on its way out: the view (name, type, size, hash) and the decrypted chunks. The
    audit event is committed and the content's hash checked before this is returned."""

    attachment: AttachmentView
    content_type: str
    size: int
    chunks: Iterator[bytes]


def attachment_download(*, actor: Actor, attachment_id: object, inline: bool = False) -> Download:
    """The file (``read`` on its client). Audited ``attachment.download`` with the client id. NotFound for a
    hidden or missing attachment; Forbidden (audited) when the client's address is confidential and the actor's
    agency is neither the owner nor the uploader; Gone when retention removed it; Unavailable when its content
    does not match its hash (reported as ``attachment.integrity_failed``)."""
    raise NotImplementedError


def attachment_thumbnail(*, actor: Actor, attachment_id: object) -> Download:
    """The JPEG thumbnail of an image attachment, under the same rules; audited ``attachment.thumbnail``."""
    raise NotImplementedError
