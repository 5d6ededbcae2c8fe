"""OpenAPI details drf-spectacular cannot infer: the Bearer scheme, problem responses and their headers."""

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
            "description": "An API key (`tsg_…`), issued with `manage.py issue_api_key`. It acts as its user.",
        }


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI naming the kind of problem, e.g. `urn:tsunagu:problem:not-found`.")
    title = serializers.CharField(help_text="Short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong this time.")


class ValidationProblemSerializer(ProblemSerializer):
    """RFC 9457 problem details for invalid input, with the messages by field."""

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field (`non_field_errors` for the request as a whole; `tags.0` for list items).",
    )


_DESCRIPTIONS = {
    400: "Invalid input (query, body, cursor or Idempotency-Key); `errors` lists the messages by field.",
    401: "Missing, malformed, unknown, expired or revoked API key (or no session).",
    403: "The object is visible but the caller's share level or role does not allow this (or CSRF failed).",
    404: "No such object, or one the caller may not see (the two are indistinguishable).",
    409: "The Idempotency-Key was used with a different request, or its first request is still running.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
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


def postprocess(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: request bodies reject unknown fields (as the views do); error responses document
    their headers."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for code, response in operation.get("responses", {}).items():
                if code in _HEADERS:
                    response.setdefault("headers", {}).update(_HEADERS[code])
    return result
