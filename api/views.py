"""REST API v1: thin adapters over the audited selectors and services (channel ``api``).

Each view checks the shape of its input, builds the actor and calls one selector or service; permissions, business
rules and the audit event all live behind that call. Errors become problem responses in ``api.problems``.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from agencies import selectors as agency_selectors
from audit import review
from cases import attachment_selectors, inquiry_selectors, meeting_selectors, selectors, services
from cases.attachments import Incoming
from cases.attachments import types as file_types
from tsunagu.downloads import streaming_file_response

from . import serializers as s
from .authentication import api_actor
from .formats import IDEMPOTENCY_KEY_PATTERN
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import Outcome, idempotent
from .pagination import list_page, page_response
from .parsers import StrictJSONParser, check_json
from .permissions import ApiView
from .problems import CONTENT_TYPE as PROBLEM_TYPE
from .schema import ProblemSerializer, problems

CLIENT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The client's id.")
INQUIRY_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The inquiry's id.")
MEETING_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The meeting's id.")
ATTACHMENT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The attachment's id.")
TASK_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The action item's id.")
SHARE_ID = OpenApiParameter("share_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The share's id.")
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, up to 255 visible ASCII characters, scoped to the caller and kept at least 24 hours. A repeat "
        "with the same key and body returns the first response (header `Idempotent-Replayed: true`); with a "
        "different body, 409."
    ),
)


# What a download may be (HEIC is served as the JPEG it was converted to).
ATTACHMENT_TYPES = [
    kind.content_type
    for kind in (
        file_types.PDF,
        file_types.JPEG,
        file_types.PNG,
        file_types.DOCX,
        file_types.XLSX,
        file_types.PPTX,
        file_types.ODT,
        file_types.ODS,
        file_types.ODP,
    )
]

OFFICERS_ONLY = "The caller is not a privacy officer (the attempt is audited as denied)."

REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="Present when the response is the stored first response to the same Idempotency-Key.",
)


class MeView(ApiView):
    @extend_schema(operation_id="me", tags=["me"], responses={200: s.MeOut, **problems(401, 429)})
    def get(self, request):
        """The caller: user, agency, role."""
        profile = agency_selectors.profile_get(actor=api_actor(request))
        return Response(s.MeOut(profile).data)


class AgencyListView(ApiView):
    @extend_schema(
        operation_id="agencies_list",
        tags=["agencies"],
        parameters=[s.PageQuery],
        responses={200: s.AgencyPage, **problems(400, 401, 429)},
    )
    def get(self, request):
        """The agency directory, by code."""
        query = s.PageQuery.validated(request.query_params)
        page = agency_selectors.agency_list(
            actor=api_actor(request), cursor=query.get("cursor"), limit=query["page_size"]
        )
        return page_response(request, page, s.AgencyOut)


class ClientListView(ApiView):
    @extend_schema(
        operation_id="clients_list",
        tags=["clients"],
        parameters=[s.ClientQuery],
        responses={200: s.ClientPage, **problems(400, 401, 429)},
    )
    def get(self, request):
        """Clients visible to the caller's agency (五十音順); `q` matches 氏名, フリガナ or case number."""
        query = s.ClientQuery.validated(request.query_params)
        page = selectors.client_list(
            actor=api_actor(request),
            q=query.get("q", ""),
            status=query.get("status", ""),
            tag=query.get("tag", ""),
            cursor=query.get("cursor"),
            limit=query["page_size"],
        )
        return page_response(request, page, s.ClientOut)

    @extend_schema(
        operation_id="clients_create",
        tags=["clients"],
        parameters=[IDEMPOTENCY_KEY, REPLAYED],
        request=s.ClientCreateIn,
        responses={201: s.ClientOut, **problems(400, 401, 403, 409, 429)},
    )
    def post(self, request):
        """Register a client; the caller's agency becomes its owner with `manage`."""
        data = s.ClientCreateIn.validated(request.data)
        actor = api_actor(request)

        def perform() -> Outcome:
            client = services.client_create(
                actor=actor,
                name=data["name"],
                name_kana=data["name_kana"],
                birth_date=data["birth_date"],
                address=data["address"],
                phone=data["phone"],
                tags=data["tags"],
                address_confidential=data["address_confidential"],
            )
            return Outcome(201, s.ClientOut(client).data, str(client.id), "client", str(client.id))

        return idempotent(request, actor=actor, perform=perform)


class ClientDetailView(ApiView):
    @extend_schema(
        operation_id="clients_retrieve",
        tags=["clients"],
        parameters=[CLIENT_ID],
        responses={200: s.ClientOut, **problems(401, 404, 429)},
    )
    def get(self, request, id):
        """One client's profile (needs a share of at least `read`)."""
        client = selectors.client_get(actor=api_actor(request), client_id=id)
        return Response(s.ClientOut(client).data)

    @extend_schema(
        operation_id="clients_update",
        tags=["clients"],
        parameters=[CLIENT_ID],
        request=s.ClientUpdateIn,
        responses={200: s.ClientOut, **problems(400, 401, 403, 404, 429)},
    )
    def patch(self, request, id):
        """Change profile fields or the status (needs `manage`)."""
        changes = s.ClientUpdateIn.validated(request.data, partial=True)
        client = services.client_update(actor=api_actor(request), client_id=id, changes=dict(changes))
        return Response(s.ClientOut(client).data)


class TimelineView(ApiView):
    parser_classes = [StrictJSONParser, MultiPartParser]  # an entry with files comes as multipart/form-data

    @extend_schema(
        operation_id="timeline_list",
        tags=["timeline"],
        parameters=[CLIENT_ID, s.TimelineQuery],
        responses={200: s.EntryPage, **problems(400, 401, 404, 429)},
    )
    def get(self, request, id):
        """The client's timeline, newest first (needs `read`)."""
        query = s.TimelineQuery.validated(request.query_params)
        page = selectors.timeline_list(
            actor=api_actor(request),
            client_id=id,
            kind=query.get("kind", ""),
            agency_code=query.get("agency", ""),
            cursor=query.get("cursor"),
            limit=query["page_size"],
        )
        return page_response(request, page, s.EntryOut)

    @extend_schema(
        operation_id="timeline_create",
        tags=["timeline"],
        parameters=[CLIENT_ID, IDEMPOTENCY_KEY, REPLAYED],
        request={"application/json": s.EntryCreateIn, "multipart/form-data": s.EntryCreateMultipartIn},
        responses={201: s.EntryOut, **problems(400, 401, 403, 404, 409, 413, 415, 429, 503)},
    )
    def post(self, request, id):
        """Append an entry, or with `corrects` a correction of one of the agency's own entries (needs `append`).

        As `multipart/form-data`, with files: each is checked by its content, images lose their metadata, and
        with a virus scanner configured each is scanned (503 while the scanner is out of reach); one refused file
        refuses the whole entry (400, nothing written)."""
        data, files = entry_input(request)
        actor = api_actor(request)

        def perform() -> Outcome:
            entry = services.timeline_append(
                actor=actor,
                client_id=id,
                kind=data["kind"],
                body=data["body"],
                occurred_at=data["occurred_at"],
                corrects=data["corrects"],
                files=files,
            )
            return Outcome(201, s.EntryOut(entry).data, str(entry.client_id), "entry", str(entry.id))

        return idempotent(request, actor=actor, perform=perform)


def entry_input(request) -> tuple[dict, list[Incoming]]:
    """The entry's fields and files from a JSON or a multipart body (a repeated field other than `files` is an
    error, like an unknown one)."""
    if not request.content_type.startswith("multipart/form-data"):
        return s.EntryCreateIn.validated(request.data), []
    fields = {
        key: request.data.getlist(key) if key == "files" or len(request.data.getlist(key)) > 1 else request.data[key]
        for key in request.data
    }
    check_json({key: value for key, value in fields.items() if key != "files"})  # NUL, lone surrogates
    data = dict(s.EntryCreateMultipartIn.validated(fields))
    files = [Incoming(name=f.name or "", file=f, size=f.size) for f in data.pop("files", [])]
    return {"occurred_at": None, "corrects": None, **data}, files


class AttachmentView(ApiView):
    @extend_schema(
        operation_id="attachment_download",
        tags=["timeline"],
        parameters=[ATTACHMENT_ID],
        responses={
            **{(200, content_type): OpenApiTypes.BINARY for content_type in ATTACHMENT_TYPES},
            **problems(401, 403, 404, 410, 429, 503),
        },
    )
    def get(self, request, id):
        """Download an attachment (needs `read` on its client; hidden or missing: 404). Streamed, with
        `Content-Disposition: attachment` (the name in `filename*`, RFC 6266) and the recorded SHA-256 checked
        first: content that fails it is reported and not served (503). 403 when the client's address is
        confidential and the caller's agency is neither its owner nor the uploader; 410 once retention removed it.
        Audited as `attachment.download`."""
        download = attachment_selectors.attachment_download(actor=api_actor(request), attachment_id=id)
        return streaming_file_response(download)


class ShareListView(ApiView):
    @extend_schema(
        operation_id="shares_list",
        tags=["shares"],
        parameters=[CLIENT_ID, s.PageQuery],
        responses={200: s.SharePage, **problems(400, 401, 404, 429)},
    )
    def get(self, request, id):
        """Every share of the client, current first, then past ones (needs `read`)."""
        query = s.PageQuery.validated(request.query_params)
        shares = selectors.share_list(actor=api_actor(request), client_id=id)
        return page_response(
            request, list_page(shares, cursor=query.get("cursor"), limit=query["page_size"]), s.ShareOut
        )

    @extend_schema(
        operation_id="shares_create",
        tags=["shares"],
        parameters=[CLIENT_ID],
        request=s.ShareCreateIn,
        responses={201: s.ShareOut, **problems(400, 401, 403, 404, 429)},
    )
    def post(self, request, id):
        """Share the client with an agency, replacing its current share (needs `manage` and a supervisor or
        agency administrator)."""
        data = s.ShareCreateIn.validated(request.data)
        share = services.share_grant(
            actor=api_actor(request),
            client_id=id,
            agency_code=data["agency"],
            level=data["level"],
            basis=data["basis"],
            basis_note=data["basis_note"],
            expires_at=data["expires_at"],
        )
        return Response(s.ShareOut(share).data, status=201)


class ShareDetailView(ApiView):
    @extend_schema(
        operation_id="shares_revoke",
        tags=["shares"],
        parameters=[CLIENT_ID, SHARE_ID],
        request=None,
        responses={200: s.ShareOut, **problems(400, 401, 403, 404, 429)},
    )
    def delete(self, request, id, share_id):
        """Revoke a share; it takes effect on the agency's next request. Returns the revoked share."""
        share = services.share_revoke(actor=api_actor(request), client_id=id, share_id=share_id)
        return Response(s.ShareOut(share).data)


# --- inquiries (照会), PRODUCT §6.1 ----------------------------------------------------------------------


def _inquiry_outcome(inquiry, status: int) -> Outcome:
    return Outcome(status, s.InquiryOut(inquiry).data, str(inquiry.client_id), "inquiry", str(inquiry.id))


class ClientInquiryView(ApiView):
    @extend_schema(
        operation_id="inquiries_create",
        tags=["inquiries"],
        parameters=[CLIENT_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=s.InquiryCreateIn,
        responses={201: s.InquiryOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Ask other agencies sharing the client a question (照会; needs `append` and a staff role). It appears on
        the client's timeline (kind `inquiry`) and notifies the addressees."""
        data = s.InquiryCreateIn.validated(request.data)
        actor = api_actor(request)

        def perform() -> Outcome:
            inquiry = services.inquiry_create(
                actor=actor,
                client_id=id,
                to=data["to"],
                subject=data["subject"],
                body=data["body"],
                due_on=data["due_on"],
            )
            return _inquiry_outcome(inquiry, 201)

        return idempotent(request, actor=actor, perform=perform)


class InquiryListView(ApiView):
    @extend_schema(
        operation_id="inquiries_list",
        tags=["inquiries"],
        parameters=[s.InquiryQuery],
        responses={200: s.InquiryPage, **problems(400, 401, 429)},
    )
    def get(self, request):
        """Inquiries addressed to (`received`) or sent by (`sent`) the caller's agency, newest first; only those
        about clients the agency sees now."""
        query = s.InquiryQuery.validated(request.query_params)
        page = inquiry_selectors.inquiry_list(
            actor=api_actor(request),
            box=query["box"],
            status=query.get("status", ""),
            cursor=query.get("cursor"),
            limit=query["page_size"],
        )
        return page_response(request, page, s.InquiryOut)


class InquiryDetailView(ApiView):
    @extend_schema(
        operation_id="inquiries_retrieve",
        tags=["inquiries"],
        parameters=[INQUIRY_ID],
        responses={200: s.InquiryOut, **problems(401, 404, 429)},
    )
    def get(self, request, id):
        """One inquiry with its replies (its sender or an addressee agency, while it sees the client)."""
        inquiry = inquiry_selectors.inquiry_detail(actor=api_actor(request), inquiry_id=id)
        return Response(s.InquiryOut(inquiry).data)


class InquiryReplyView(ApiView):
    @extend_schema(
        operation_id="inquiries_reply",
        tags=["inquiries"],
        parameters=[INQUIRY_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=s.InquiryReplyIn,
        responses={201: s.InquiryOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Reply in the thread (the sender or an addressee agency with `append`); an addressee's reply makes the
        inquiry `answered`. Notifies the other side. Returns the inquiry with its replies."""
        data = s.InquiryReplyIn.validated(request.data)
        actor = api_actor(request)

        def perform() -> Outcome:
            return _inquiry_outcome(services.inquiry_reply(actor=actor, inquiry_id=id, body=data["body"]), 201)

        return idempotent(request, actor=actor, perform=perform)


class InquiryCloseView(ApiView):
    @extend_schema(
        operation_id="inquiries_close",
        tags=["inquiries"],
        parameters=[INQUIRY_ID, IDEMPOTENCY_KEY],
        request=None,
        responses={200: s.InquiryOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Close the inquiry (`closed`; the sender agency only, an addressee gets 403). Notifies the addressees."""
        actor = api_actor(request)

        def perform() -> Outcome:
            return _inquiry_outcome(services.inquiry_close(actor=actor, inquiry_id=id), 200)

        return idempotent(request, actor=actor, perform=perform)


# --- support meetings (支援会議) and action items (PRODUCT §6.1) ------------------------------------------


def _meeting_outcome(meeting, status: int) -> Outcome:
    # What a replay shows again is the meeting: recorded against the clients the caller's agency sees in it.
    exposed = meeting.exposed_client_ids
    return Outcome(status, s.MeetingOut(meeting).data, str(exposed[0]) if exposed else "", "meeting", str(meeting.id))


class MeetingListView(ApiView):
    @extend_schema(
        operation_id="meetings_list",
        tags=["meetings"],
        parameters=[s.PageQuery],
        responses={200: s.MeetingPage, **problems(400, 401, 429)},
    )
    def get(self, request):
        """Meetings the caller's agency convened or attends, newest first (by the day held). An attendee that has
        not confirmed 守秘義務 sees a meeting without its minutes until its meeting shares would end; an agency
        that sees none of a meeting's clients any more does not see the meeting."""
        query = s.PageQuery.validated(request.query_params)
        page = meeting_selectors.meeting_list(
            actor=api_actor(request), cursor=query.get("cursor"), limit=query["page_size"]
        )
        return page_response(request, page, s.MeetingOut)

    @extend_schema(
        operation_id="meetings_create",
        tags=["meetings"],
        parameters=[IDEMPOTENCY_KEY, REPLAYED],
        request=s.MeetingCreateIn,
        responses={201: s.MeetingOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request):
        """Convene a 支援会議 under 社会福祉法第106条の6 (a supervisor or agency administrator of an agency with
        `manage` on every client). Each attendee without an active share on a client gets a share with basis
        `support_meeting`, inactive until that agency confirms 守秘義務, ending `share_days` after `held_on`."""
        data = s.MeetingCreateIn.validated(request.data)
        actor = api_actor(request)

        def perform() -> Outcome:
            meeting = services.meeting_create(
                actor=actor,
                title=data["title"],
                held_on=data["held_on"],
                clients=data["clients"],
                attendees=data["attendees"],
                share_level=data["share_level"],
                share_days=data["share_days"],
            )
            return _meeting_outcome(meeting, 201)

        return idempotent(request, actor=actor, perform=perform)


class MeetingDetailView(ApiView):
    @extend_schema(
        operation_id="meetings_retrieve",
        tags=["meetings"],
        parameters=[MEETING_ID],
        responses={200: s.MeetingOut, **problems(401, 404, 429)},
    )
    def get(self, request, id):
        """One meeting (the convening or an attending agency)."""
        meeting = meeting_selectors.meeting_detail(actor=api_actor(request), meeting_id=id)
        return Response(s.MeetingOut(meeting).data)


class MeetingConfirmView(ApiView):
    @extend_schema(
        operation_id="meetings_confirm",
        tags=["meetings"],
        parameters=[MEETING_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=None,
        responses={200: s.MeetingOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Acknowledge the duty of confidentiality (守秘義務 under 社会福祉法第106条の6) for the caller's agency (a
        supervisor or agency administrator of an attending agency), once: its meeting shares start. A second
        confirmation is a 400."""
        actor = api_actor(request)

        def perform() -> Outcome:
            return _meeting_outcome(services.meeting_confirm(actor=actor, meeting_id=id), 200)

        return idempotent(request, actor=actor, perform=perform)


class MeetingMinutesView(ApiView):
    @extend_schema(
        operation_id="meetings_minutes_create",
        tags=["meetings"],
        parameters=[MEETING_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=s.MinutesCreateIn,
        responses={201: s.MeetingOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Record the minutes (the convening agency): each call adds a version, never overwrites; the open action
        items of earlier versions are superseded. Each client's timeline gets an entry of kind `meeting` with the
        summary, the decisions and that client's action items. Returns the meeting."""
        data = s.MinutesCreateIn.validated(request.data)
        actor = api_actor(request)

        def perform() -> Outcome:
            meeting = services.meeting_minutes_record(
                actor=actor,
                meeting_id=id,
                summary=data["summary"],
                decisions=data["decisions"],
                action_items=[dict(item) for item in data["action_items"]],
            )
            return _meeting_outcome(meeting, 201)

        return idempotent(request, actor=actor, perform=perform)


class TaskListView(ApiView):
    @extend_schema(
        operation_id="tasks_list",
        tags=["tasks"],
        parameters=[s.TaskQuery],
        responses={200: s.TaskPage, **problems(400, 401, 429)},
    )
    def get(self, request):
        """Action items assigned to the caller's agency, for clients it sees: `open` the oldest due first (no due
        date last), `done` the latest done first."""
        query = s.TaskQuery.validated(request.query_params)
        page = meeting_selectors.task_list(
            actor=api_actor(request), status=query["status"], cursor=query.get("cursor"), limit=query["page_size"]
        )
        return page_response(request, page, s.TaskOut)


class TaskDoneView(ApiView):
    @extend_schema(
        operation_id="tasks_done",
        tags=["tasks"],
        parameters=[TASK_ID, IDEMPOTENCY_KEY, REPLAYED],
        request=None,
        responses={200: s.TaskOut, **problems(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, id):
        """Mark an action item done (staff of the assigned agency); recorded on the client's timeline. Already
        done, or replaced by a later version of the minutes: 400."""
        actor = api_actor(request)

        def perform() -> Outcome:
            task = services.task_done(actor=actor, task_id=id)
            return Outcome(200, s.TaskOut(task).data, str(task.client_id), "action_item", str(task.id))

        return idempotent(request, actor=actor, perform=perform)


class AuditEventListView(ApiView):
    @extend_schema(
        operation_id="audit_events_list",
        tags=["audit"],
        parameters=[s.AuditEventQuery],
        responses={
            200: s.AuditEventPage,
            **problems(400, 401, 429),
            (403, PROBLEM_TYPE): OpenApiResponse(ProblemSerializer, description=OFFICERS_ONLY),
        },
    )
    def get(self, request):
        """Audit events, newest first (privacy officers only; the search is itself audited as `audit.view`)."""
        query = s.AuditEventQuery.validated(request.query_params)
        page = review.review_events(
            actor=api_actor(request),
            client_id=query.get("client"),
            username=query.get("actor", ""),
            agency=query.get("agency", ""),
            action=query.get("action", ""),
            outcome=query.get("outcome", ""),
            channel=query.get("channel", ""),
            since=query.get("since"),
            until=query.get("until"),
            cursor=query.get("cursor"),
            limit=query["page_size"],
        )
        return page_response(request, page, s.AuditEventOut)


class AuditSealLatestView(ApiView):
    @extend_schema(
        operation_id="audit_seals_latest",
        tags=["audit"],
        responses={
            200: s.SealStatusOut,
            **problems(401, 429),
            (403, PROBLEM_TYPE): OpenApiResponse(ProblemSerializer, description=OFFICERS_ONLY),
        },
    )
    def get(self, request):
        """The last seal of the audit log and the last verification result (privacy officers only)."""
        status = review.review_seal_status(actor=api_actor(request))
        return Response(s.SealStatusOut(status).data)
