"""Gunicorn settings for Tsunagu (``gunicorn -c deploy/gunicorn.conf.py tsunagu.wsgi``).

Read by ``deploy/systemd/tsunagu-web.service``. Tunable from the environment (the same ``/etc/tsunagu/tsunagu.env``
the application reads): ``GUNICORN_BIND``, ``GUNICORN_WORKERS``, ``GUNICORN_TIMEOUT``, ``GUNICORN_FORWARDED_ALLOW_IPS``.
The access log names the path only, never the query string: an API search (``?q=``) may carry a name.
"""

import contextlib
import ipaddress
import os

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer") from None
    if number < 1:
        raise SystemExit(f"{name}={number} must be at least 1")
    return number


# Behind the proxy on the same machine: a local port (or unix:/run/tsunagu/gunicorn.sock).
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

# Synchronous workers: 2 × cores + 1, at most 12 (each holds a database connection; PostgreSQL's max_connections
# must cover every node's workers plus the Celery workers).
workers = _int("GUNICORN_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 12))
worker_class = "sync"
# A request taking longer than this is killed (the largest upload at a slow line included); on SIGTERM, workers
# finish the requests in hand for up to graceful_timeout seconds.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then (memory held by a large upload or export is given back).
max_requests = 2000
max_requests_jitter = 200

# The proxy's addresses: only a request from one of them may say who the client is (X-Real-IP, below) or that it
# came over HTTPS (X-Forwarded-Proto, which the application trusts only with PROXY_SSL_HEADER set).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
_PROXIES = {item.strip() for item in forwarded_allow_ips.split(",") if item.strip()}

# Logs to standard error (journald under systemd). Access log: remote address, time, method, PATH WITHOUT QUERY
# STRING (%(U)s, not %(r)s), protocol, status, bytes, duration in microseconds and the request id; no Referer (it
# can carry a query string of its own) and no user agent.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)s request_id=%({x-request-id}o)s'
proc_name = "tsunagu-web"
# No control socket (gunicorn 25+ makes one under $HOME, which the unit hides with ProtectHome): systemctl reload
# and restart manage the server.
control_socket_disable = True


class _Logger(Logger):
    """The load balancer's health checks (every few seconds) stay out of the access log."""

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") == "/health/" and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)


logger_class = _Logger


def _client_address(app):  # type: ignore[no-untyped-def]
    """The application reads the client's address from REMOTE_ADDR only (login throttling per address, the audit
    log). Behind the proxy that is the proxy's own address; a request from a proxy in ``forwarded_allow_ips`` that
    carries ``X-Real-IP`` (set, never passed through, by deploy/nginx/tsunagu.conf) gets that address instead. Any
    other request keeps its peer address, whatever headers it sends."""

    def application(environ, start_response):  # type: ignore[no-untyped-def]
        real = environ.pop("HTTP_X_REAL_IP", "")
        if real and environ.get("REMOTE_ADDR") in _PROXIES:
            with contextlib.suppress(ValueError):  # not an address: the peer's stays
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(real.strip()))
        return app(environ, start_response)

    return application


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    worker.wsgi = _client_address(worker.wsgi)
