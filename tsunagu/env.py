"""Typed readers for environment variables. Each rejects a value it does not understand.

A misspelt ``DEBUG=ture`` silently read as ``False`` (or ``True``) is how a production deployment ends up
serving debug pages; these helpers raise ``ImproperlyConfigured`` instead.
"""

import os
import re
from pathlib import Path
from typing import overload
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_DOTENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def load_dotenv(path: Path) -> list[str]:
    """A developer's local settings: the ``NAME=value`` lines of ``path`` (``make run`` writes ``.env`` with
    ``DEBUG=true`` so that every command in a quick-start clone runs as the README shows), for the variables the
    environment does not set — the environment always wins. Blank lines and ``#`` comments are allowed; any other
    line is an error. Returns the names taken from the file (none if there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    taken = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ImproperlyConfigured(f"{path}:{number}: expected NAME=value")
        name, value = match.groups()
        if name not in os.environ:
            os.environ[name] = value
            taken.append(name)
    return taken


_FALSE = {"false", "0", "no", "off"}


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value, or the content of the file named by ``NAME_FILE`` (for secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
    return number


_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A request rate as the REST framework reads it: a positive count per s, min, h or day (``"600/min"``)."""
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 600/min or 10/s")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={value!r} has an empty item")
    return items


_KEY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,15}$")
KEY_MIN_LENGTH = 32


def env_keyring(name: str) -> list[tuple[str, str]]:
    """Named secrets for rotation, ``"k2:secret,k1:older-secret"``: the first is the current one, the others are
    kept only to recognise what was made with them. Ids are short (``[a-z0-9_-]``, at most 16), secrets at least
    32 characters with no comma or whitespace. Empty list when unset. Messages never repeat a secret."""
    value = env_str(name)
    if value is None:
        return []
    keys: list[tuple[str, str]] = []
    for position, item in enumerate(value.split(","), start=1):
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"{name}: item {position} must be <id>:<secret> with an id of a-z, 0-9, _ or - (at most 16)"
            )
        if len(secret) < KEY_MIN_LENGTH or any(ch.isspace() for ch in secret):
            raise ImproperlyConfigured(
                f"{name}: the secret of key {key_id!r} must be at least {KEY_MIN_LENGTH} characters, no whitespace"
            )
        if any(key_id == known for known, _secret in keys):
            raise ImproperlyConfigured(f"{name}: key id {key_id!r} appears twice")
        keys.append((key_id, secret))
    return keys


def env_required_keyring(name: str, *, debug: bool, dev_key: tuple[str, str]) -> list[tuple[str, str]]:
    """``env_keyring``, required when DEBUG is off; with DEBUG on and nothing set, ``[dev_key]`` (a deploy check
    refuses the development key in production)."""
    keys = env_keyring(name)
    if keys:
        return keys
    if not debug:
        raise ImproperlyConfigured(
            f"{name} is required when DEBUG is off: e.g. k1:<at least {KEY_MIN_LENGTH} random characters> (see README)"
        )
    return [dev_key]


_EMAIL_SCHEMES = {
    # scheme: (use_tls (STARTTLS), use_ssl (implicit TLS), default port)
    "smtp": (False, False, 25),
    "smtp+tls": (True, False, 587),
    "smtps": (False, True, 465),
}


def env_email_url(name: str, default: str, *, timeout: int) -> dict:
    """A ``MAILERS`` entry from a URL: ``smtp://host[:25]`` (plain), ``smtp+tls://user:password@host[:587]``
    (STARTTLS), ``smtps://user:password@host[:465]`` (implicit TLS), or ``console://`` (printed, development).
    User and password are percent-encoded (``%40`` for ``@``)."""
    value = env_str(name, default) or default
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} is not a valid URL (e.g. smtp+tls://user:password@mail.example.jp)"
        ) from None
    if parts.scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in _EMAIL_SCHEMES:
        raise ImproperlyConfigured(f"{name} must start with smtp://, smtp+tls://, smtps:// or console://")
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name} has no host")
    use_tls, use_ssl, default_port = _EMAIL_SCHEMES[parts.scheme]
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname,
            "port": port or default_port,
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": timeout,
        },
    }


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``SECURE_PROXY_SSL_HEADER`` from a header name (``X-Forwarded-Proto``) whose value ``https`` marks a request
    the TLS-terminating proxy received over HTTPS. Unset: no header is trusted (the default: only set it when
    the proxy always sets or strips that header, or a client could claim HTTPS)."""
    value = env_str(name)
    if value is None:
        return None
    if not _HEADER_NAME.match(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a header name (e.g. X-Forwarded-Proto)")
    return ("HTTP_" + value.upper().replace("-", "_"), "https")
