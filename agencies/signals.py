"""Login, logout and failed-login events from Django's auth signals (channel ``web`` or ``admin``)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.services import audit_denied, audit_record, terms_hash
from tsunagu.middleware import client_ip

from .actors import Actor


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
    audit_record(actor=_actor(user, request), action="auth.login", target_type="user", target_id=user.pk)


@receiver(user_logged_out, dispatch_uid="audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=_actor(user, request), action="auth.logout", target_type="user", target_id=user.pk)


def _failed(request, username, reason: str) -> None:
    # The attempted username may be a mistyped password or a real person's name: store its hash only.
    audit_denied(
        actor=_actor(None, request),
        action="auth.login_failed",
        reason=reason,
        details={"username_hash": terms_hash(str(username or ""))},
    )


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    _failed(request, credentials.get("username", ""), "bad_credentials")


@receiver(user_locked_out, dispatch_uid="audit-login-locked-out")
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """django-axes refused the attempt because of earlier failures (the throttle)."""
    _failed(request, username, "locked_out")
