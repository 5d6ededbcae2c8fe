"""The Celery application. Tasks run eagerly when no broker is configured (quick-start).

Every task runs under a request id (``tsunagu.logs``), on its log lines and on the audit events of the system
actors it builds: the id of the request that started it — carried in the ``request_id`` header of the tasks it
publishes, and, for the outbox's consumers, kept in the message's payload by ``cases.outbox`` — else the task's own
id. A task run eagerly inside a request simply keeps the request's.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from tsunagu.logs import channel_var, current_request_id, request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")

REQUEST_ID_HEADER = "request_id"

app = Celery("tsunagu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_tokens: dict[str, tuple[Any, Any]] = {}


@before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs) -> None:
    request_id = current_request_id()
    if headers is not None and request_id and not headers.get(REQUEST_ID_HEADER):
        headers[REQUEST_ID_HEADER] = request_id


@task_prerun.connect
def _enter_request_context(task_id: str | None = None, task: Any = None, **kwargs) -> None:
    carried = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    if not carried and task is not None:
        carried = (getattr(task.request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    request_id = carried if isinstance(carried, str) and carried else current_request_id() or task_id
    if task_id:
        _tokens[task_id] = (request_id_var.set(request_id), channel_var.set(channel_var.get() or "task"))


@task_postrun.connect
def _leave_request_context(task_id: str | None = None, **kwargs) -> None:
    tokens = _tokens.pop(task_id or "", None)
    if tokens is not None:
        channel_var.reset(tokens[1])
        request_id_var.reset(tokens[0])
