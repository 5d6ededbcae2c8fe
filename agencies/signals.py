"""Login, logout and failed-login events from Django's auth signals (channel ``web`` or ``admin``), and the
login throttle's counting (``agencies.login_throttle``)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.services import audit_denied, audit_record, terms_hash
from tsunagu.middleware import client_ip

from .actions import AgencyAction
from .actors import Actor
from .login_throttle import login_failure_record, login_success_record

LOGIN_CHANNEL_KEY = "tsunagu_login_channel"


def _channel(request) -> str:
    return "admin" if request is not None and request.path.startswith("/admin/") else "web"


def _actor(user, request) -> Actor:
    return Actor.for_user(
        user,
        channel=_channel(request),
        request_id=getattr(request, "request_id", None),
        ip=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "") if request is not None else "",
    )


@receiver(user_logged_in, dispatch_uid="audit-login")
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=_actor(user, request), action=AgencyAction.AUTH_LOGIN, target_type="user", target_id=user.pk)
    if request is not None:
        login_success_record(username=user.get_username())
        if hasattr(request, "session"):
            # The second-factor step that follows is recorded on the channel the password was given on.
            request.session[LOGIN_CHANNEL_KEY] = _channel(request)


@receiver(user_logged_out, dispatch_uid="audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(
            actor=_actor(user, request), action=AgencyAction.AUTH_LOGOUT, target_type="user", target_id=user.pk
        )


def _failed(request, username, reason: str, details: dict | None = None) -> None:
    # The attempted username may be a mistyped password or a real person's name: store its hash only.
    audit_denied(
        actor=_actor(None, request),
        action=AgencyAction.AUTH_LOGIN_FAILED,
        reason=reason,
        details={"username_hash": terms_hash(str(username or "")), **(details or {})},
    )


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", "") or "")
    refusal = getattr(request, "login_refusal", None)
    if refusal is not None:
        # Held back by the throttle, unchecked: recorded as a refusal, not counted as another failure.
        _failed(request, username, refusal.reason, {"retry_after": refusal.retry_after})
        return
    if request is not None:
        login_failure_record(username=username, ip=client_ip(request))
    _failed(request, username, "bad_credentials")
