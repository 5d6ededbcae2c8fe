"""Attachments in the browser: download, inline preview and thumbnail, thin adapters over the audited selectors.

Every file is read through ``cases.attachment_selectors`` (permission check, the audit event, the hash check) and
streamed by ``tsunagu.downloads``; nothing is ever served from a public URL. The selector's errors become the
site's pages (``frontend.errors``): a hidden or missing attachment the one not-found page, a withheld one (the
client's address is confidential) the forbidden page, one removed by retention 410, one that failed its integrity
check 503.

The preview is the file itself, sent ``inline`` for the client page's preview dialog (an ``<img>`` or an
``<iframe>`` of our own origin; see frontend/static/frontend/attachments.js). It carries a policy of its own that
allows nothing but showing it: no script, no connection, no plugin from elsewhere, framed only by our own pages.
"""

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET

from cases import attachment_selectors
from tsunagu.downloads import streaming_file_response

from .auth import web_login_required
from .web import web_actor

# The preview's own Content-Security-Policy: the browser's image or PDF viewer may show the file (its generated
# page uses inline style), nothing else runs or loads, and only a page of ours may frame it.
PREVIEW_CSP: dict[str, list[str]] = {
    "default-src": [CSP.NONE],
    "img-src": [CSP.SELF],
    "style-src": [CSP.UNSAFE_INLINE],
    "frame-ancestors": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.NONE],
}

# Thumbnails may be kept by the browser itself for a while (never by a shared cache): the timeline shows them
# again on every reload, and each fetch is an audited read.
THUMBNAIL_CACHE = "private, max-age=600"


@web_login_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """The file, as a download (``Content-Disposition: attachment``)."""
    download = attachment_selectors.attachment_download(actor=web_actor(request), attachment_id=attachment_id)
    return streaming_file_response(download)


@web_login_required
@require_GET
@xframe_options_sameorigin
@csp_override(PREVIEW_CSP)
def attachment_preview(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """An image or a PDF shown in the browser (``inline``), framed only by our own pages. Any other type is
    sent as a download: the browser never renders a document we do not preview."""
    download = attachment_selectors.attachment_download(
        actor=web_actor(request), attachment_id=attachment_id, inline=True
    )
    return streaming_file_response(download, inline=download.attachment.previewable)


@web_login_required
@require_GET
def attachment_thumbnail(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """The JPEG thumbnail of an image, for the timeline."""
    download = attachment_selectors.attachment_thumbnail(actor=web_actor(request), attachment_id=attachment_id)
    response = streaming_file_response(download, inline=True)
    response["Cache-Control"] = THUMBNAIL_CACHE
    return response
