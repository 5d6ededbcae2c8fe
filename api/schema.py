"""OpenAPI details drf-spectacular cannot infer: the Bearer scheme, problem responses and their headers, the rules
a JSON Schema cannot state, and the links between operations."""

import copy
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .problems import CONTENT_TYPE


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key (`tsg_…`), issued with `manage.py issue_api_key`. It acts as its user; a read-only key"
                " (`--read-only`) may only read, and its writes answer 403."
            ),
        }


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem, e.g. `urn:tsunagu:problem:not-found`.")
    title = serializers.CharField(help_text="Short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong this time.")


class ValidationProblemSerializer(ProblemSerializer):
    """RFC 9457 problem details for invalid input, with the messages by field."""

    errors = serializers.DictField(  # type: ignore[assignment]  # a declared field, not Serializer.errors: DRF's metaclass moves it to _declared_fields
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field (`non_field_errors` for the request as a whole; `tags.0` for list items).",
    )


_DESCRIPTIONS = {
    400: "Invalid input (query, body, cursor or Idempotency-Key); `errors` lists the messages by field.",
    401: "Missing, malformed, unknown, expired or revoked API key (or no session).",
    403: "The object is visible but the caller's share level or role does not allow this (or CSRF failed).",
    404: "No such object, or one the caller may not see (the two are indistinguishable).",
    409: "The Idempotency-Key was used with a different request, or its first request is still running.",
    410: "The attachment's content was removed after its retention period (its entry and listing remain).",
    413: "The uploaded files far exceed the limits (stopped while they arrived; nothing was written).",
    415: "The body is neither JSON nor a well-formed multipart/form-data form.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
    503: "The file cannot be handled now: a configured virus scanner or the storage is out of reach (retry "
    "later), or a stored file failed its integrity check (reported to the privacy officer; not served).",
}


def problems(*codes: int) -> dict:
    """``extend_schema(responses=...)`` entries for the given error status codes, as problem+json."""
    return {
        (code, CONTENT_TYPE): OpenApiResponse(
            ValidationProblemSerializer if code == 400 else ProblemSerializer, description=_DESCRIPTIONS[code]
        )
        for code in codes
    }


_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": 'The scheme to use: `Bearer realm="api"`.',
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait before retrying.",
        }
    },
}


# Rules on well-formed input that no JSON Schema keyword can state (they depend on the clock, on other fields or on
# stored data). Each is answered with a 400 problem whose `errors` has the field's key, and is listed in its
# operation's description; tests/api/test_schemathesis.py keeps its generated "valid" requests within them.
_CURSOR_RULE = "a cursor the server issued for this list (copied from `next` or `previous`)"
SEMANTIC_RULES: dict[str, dict[str, str]] = {
    "agencies_list": {"cursor": _CURSOR_RULE},
    "clients_list": {"cursor": _CURSOR_RULE},
    "clients_create": {"birth_date": "not later than today (Japan time)"},
    "clients_update": {"birth_date": "not later than today (Japan time)"},
    "timeline_list": {"cursor": _CURSOR_RULE},
    "timeline_create": {
        "occurred_at": "not more than 5 minutes in the future",
        "corrects": "an entry on this client's timeline written by a person, not by the system (an entry of "
        "another agency is a 403)",
        "files": "each of an accepted type, decided from its content (PDF, JPEG, PNG, HEIC, .docx/.xlsx/.pptx, "
        "OpenDocument), not empty, within the size limits, and free of malware when a scanner is configured",
    },
    "shares_list": {"cursor": _CURSOR_RULE},
    "shares_create": {
        "agency": "the code of a listed agency other than the client's owner agency",
        "expires_at": "in the future",
    },
    "shares_revoke": {"share": "a share that is not the owner agency's and is not already revoked"},
    "audit_events_list": {"cursor": _CURSOR_RULE, "until": "later than `since`"},
    "inquiries_list": {"cursor": _CURSOR_RULE},
    "inquiries_create": {
        "to": "codes of agencies holding an active share of the client, other than the caller's agency",
        "due_on": "not before today (Japan time)",
    },
    "inquiries_reply": {"inquiry": "an inquiry that is not closed"},
    "inquiries_close": {"inquiry": "an inquiry that is not already closed"},
    "meetings_list": {"cursor": _CURSOR_RULE},
    "meetings_create": {
        "held_on": "within a year of today (Japan time), and the shares must not have ended already (`held_on` "
        "plus `share_days` in the future)",
        "attendees": "codes of listed agencies other than the caller's own",
    },
    "meetings_confirm": {"meeting": "the caller's agency has not confirmed this meeting yet"},
    "meetings_minutes_create": {
        "action_items": "each item's `agency` is the convening or an attending agency and its `client` one of the "
        "meeting's clients (the messages are under `errors.action_items.<index>`)",
    },
    "tasks_list": {"cursor": _CURSOR_RULE},
    "tasks_done": {"task": "an action item that is open and not replaced by a later version of the minutes"},
}

# OpenAPI links: where the ids a response returns are used next (clients generated from the schema, and stateful
# tests, follow them).
_CLIENT_ID = "$response.body#/id"
_SAME_CLIENT = "$request.path.id"
LINKS: dict[str, dict[str, dict[str, dict]]] = {
    "clients_create": {
        "201": {
            "GetClient": {"operationId": "clients_retrieve", "parameters": {"id": _CLIENT_ID}},
            "UpdateClient": {"operationId": "clients_update", "parameters": {"id": _CLIENT_ID}},
            "ListTimeline": {"operationId": "timeline_list", "parameters": {"id": _CLIENT_ID}},
            "AppendToTimeline": {"operationId": "timeline_create", "parameters": {"id": _CLIENT_ID}},
            "ListShares": {"operationId": "shares_list", "parameters": {"id": _CLIENT_ID}},
            "GrantShare": {"operationId": "shares_create", "parameters": {"id": _CLIENT_ID}},
        }
    },
    "shares_create": {
        "201": {
            "RevokeShare": {
                "operationId": "shares_revoke",
                "parameters": {"id": _SAME_CLIENT, "share_id": "$response.body#/id"},
            },
            "ListShares": {"operationId": "shares_list", "parameters": {"id": _SAME_CLIENT}},
        }
    },
    "inquiries_create": {
        "201": {
            "GetInquiry": {"operationId": "inquiries_retrieve", "parameters": {"id": "$response.body#/id"}},
            "ReplyToInquiry": {"operationId": "inquiries_reply", "parameters": {"id": "$response.body#/id"}},
            "CloseInquiry": {"operationId": "inquiries_close", "parameters": {"id": "$response.body#/id"}},
        }
    },
    "timeline_create": {
        "201": {"ListTimeline": {"operationId": "timeline_list", "parameters": {"id": _SAME_CLIENT}}},
    },
}


def _describe_rules(operation: dict, rules: dict[str, str]) -> None:
    lines = [f"- `{field}`: {rule} (otherwise 400, `errors.{field}`)" for field, rule in rules.items()]
    text = "Rules the schema cannot state:\n" + "\n".join(lines)
    operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{text}".lstrip()


def _blank_or(node) -> None:
    """drf-spectacular writes a blank-allowed string with a pattern as ``oneOf: [the string, maxLength 0]``: where
    the pattern already admits "" the two overlap, and ``oneOf`` would then reject "". Keep the one schema."""
    if isinstance(node, dict):
        branches = node.get("oneOf")
        if (
            isinstance(branches, list)
            and len(branches) == 2
            and branches[1] == {"type": "string", "maxLength": 0}
            and re.fullmatch(branches[0].get("pattern", "^$"), "")
            and not branches[0].get("minLength")
        ):
            del node["oneOf"]
            node.update(branches[0])
        for value in node.values():
            _blank_or(value)
    elif isinstance(node, list):
        for value in node:
            _blank_or(value)


def _document_not_acceptable(responses: dict) -> None:
    """Every operation negotiates its response type: an ``Accept`` that names nothing it sends is a 406 problem."""
    template = responses.get("401")
    if template is not None and "406" not in responses:
        responses["406"] = {
            "description": "The Accept header names no type this operation sends (JSON, or the file's own type).",
            "content": copy.deepcopy(template["content"]),
        }


def postprocess(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: request bodies reject unknown fields (as the views do); error responses document
    their headers; operations list the rules no schema keyword states, and link to where their ids are used."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    _blank_or(result)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation_id: str = operation.get("operationId", "")
            _document_not_acceptable(operation["responses"])
            for code, response in operation["responses"].items():
                if code in _HEADERS:
                    response.setdefault("headers", {}).update(_HEADERS[code])
                links = LINKS.get(operation_id, {}).get(code)
                if links:
                    response["links"] = links
            rules = SEMANTIC_RULES.get(operation_id)
            if rules:
                _describe_rules(operation, rules)
    return result
