"""Login, logout and failed-login events from Django's auth signals (channel ``web`` or ``admin``)."""

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


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    actor = _actor(None, request)
    username = str(credentials.get("username", ""))
    # The attempted username may be a mistyped password or a real person's name: store its hash only.
    audit_denied(
        actor=actor,
        action="auth.login_failed",
        reason="bad_credentials",
        details={"username_hash": terms_hash(username)},
    )
