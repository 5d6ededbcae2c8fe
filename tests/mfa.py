"""Second factor in tests: enrol a user with a known secret, compute the code an authenticator app would show,
and sign a test client in with a verified session (the password step forced, the code step through django-otp's
own ``login``, exactly what the code page does)."""

import base64
import hashlib
import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.actors import Actor
from agencies.mfa import mfa_enrol_known_secret, mfa_required


def secret_for(username: str) -> str:
    """A fixed base32 secret per test user (20 bytes, as authenticator apps expect)."""
    return base64.b32encode(hashlib.sha256(f"tsunagu-test-{username}".encode()).digest()[:20]).decode()


def code_at(secret: str, step: int) -> str:
    totp = TOTP(base64.b32decode(secret))
    totp.time = step * totp.step
    return f"{totp.token():06d}"


def current_code(secret: str) -> str:
    return code_at(secret, int(time.time()) // 30)


def enrol(user, secret: str | None = None) -> str:
    """Enrol ``user`` with a known secret (unless already enrolled); returns the secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        return base64.b32encode(device.bin_key).decode()
    secret = secret or secret_for(user.get_username())
    mfa_enrol_known_secret(actor=Actor.system(channel="cli"), user=user, secret=secret)
    return secret


def fresh_code(user) -> str:
    """The code an authenticator shows now, for a device that may already have accepted this step's code (a
    code is accepted once): this step's code, or a later one within the device's tolerance, waiting for the clock
    when needed. Never an earlier step's: the clock may tick between making the code and checking it, and an
    earlier step would then fall outside the window."""
    while True:
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        now = int(time.time()) // device.step + device.drift
        for step in range(now, now + device.tolerance + 1):
            if step > device.last_t:
                return code_at(base64.b32encode(device.bin_key).decode(), step)
        time.sleep(1)


def verify_session(client: Client, user) -> None:
    """Mark the client's signed-in session as verified by the user's device (enrolling it when needed)."""
    enrol(user)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def sign_in(client: Client, user) -> Client:
    """``force_login`` plus, for a user who needs the second factor, a verified session."""
    client.force_login(user)
    if mfa_required(user):
        verify_session(client, user)
    return client
