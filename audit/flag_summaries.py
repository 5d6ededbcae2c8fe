"""What an anomaly flag says, in the reader's language: a flag stores a summary code and its parameters (ids,
codes, counts, times), worded at display time. The reader's page names users, agencies and clients through the
``Names`` it passes (agency names, case numbers, which the audit layer does not know); without one, codes and ids
are shown as they are.

The flag also keeps a Japanese wording (``AnomalyFlag.summary``), written when it is raised: flags raised before
summary codes existed have only that, and are shown as stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import models
from django.utils import formats, timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tsunagu.timezones import JST


class SummaryCode(models.TextChoices):
    AFTER_HOURS = "after_hours", _("時間外のアクセス")
    MANY_CLIENTS = "many_clients", _("短時間に多数の対象者へのアクセス")
    DENIALS_USER = "denials_user", _("職員の操作の拒否の繰り返し")
    DENIALS_IP = "denials_ip", _("接続元からの操作の拒否の繰り返し")
    BREAK_GLASS = "break_glass", _("緊急アクセスの利用")
    BREAK_GLASS_RENEWAL = "break_glass_renewal", _("緊急アクセスの延長")
    SHARE_REVOKED = "share_revoked", _("共有の取り消し直後のアクセス")
    SHARE_EXPIRED = "share_expired", _("共有の期限切れ直後のアクセス")


def _plain(value: str) -> str:
    return value


@dataclass(frozen=True)
class Names:
    """How the page names what a summary refers to: an agency code, a client id (both as stored)."""

    agency: Callable[[str], str] = _plain
    client: Callable[[str], str] = _plain
    user: Callable[[str], str] = _plain
    extra: dict[str, Any] = field(default_factory=dict)


def client_ids(code: str, params: dict[str, Any]) -> list[str]:
    """The client ids a summary names (for the page to identify them in one call)."""
    if code in (
        SummaryCode.BREAK_GLASS,
        SummaryCode.BREAK_GLASS_RENEWAL,
        SummaryCode.SHARE_REVOKED,
        SummaryCode.SHARE_EXPIRED,
    ):
        return [str(c) for c in params.get("clients", []) if c]
    return []


def _who(params: dict[str, Any], names: Names) -> str:
    user = names.user(str(params.get("user", "")))
    agency = params.get("agency") or ""
    if not agency:
        return user
    return gettext("%(user)s（%(agency)s）") % {"user": user, "agency": names.agency(str(agency))}


def _day(value: str) -> str:
    return formats.date_format(date.fromisoformat(value), "DATE_FORMAT")


def _hour(value: str) -> str:
    moment = timezone.localtime(datetime.fromisoformat(value), JST)
    return gettext("%(date)s %(hour)s時台") % {
        "date": formats.date_format(moment.date(), "DATE_FORMAT"),
        "hour": moment.hour,
    }


def _clients(params: dict[str, Any], names: Names) -> str:
    return gettext("、").join(names.client(str(c)) for c in params.get("clients", []) if c) or "—"


def render(code: str, params: dict[str, Any], names: Names | None = None) -> str:
    """The summary in the current language; "" for a code this version does not know, or parameters it cannot
    read (then the stored text is shown)."""
    try:
        return _render(code, params, names or Names())
    except (KeyError, TypeError, ValueError):
        return ""


def _render(code: str, params: dict[str, Any], names: Names) -> str:
    p = params or {}
    n = p.get("n", 0)
    if code == SummaryCode.AFTER_HOURS:
        return gettext(
            "%(who)sが%(day)sの勤務時間外（平日%(start)s時〜%(end)s時以外）に%(n)s件の操作を行いました。"
        ) % {"who": _who(p, names), "day": _day(p["day"]), "start": p["start"], "end": p["end"], "n": n}
    if code == SummaryCode.MANY_CLIENTS:
        return gettext(
            "%(who)sが%(hour)sに%(count)s人の対象者の記録にアクセスしました"
            "（基準: 1時間に%(threshold)s人まで、操作%(n)s件）。"
        ) % {
            "who": _who(p, names),
            "hour": _hour(p["hour"]),
            "count": p["count"],
            "threshold": p["threshold"],
            "n": n,
        }
    if code == SummaryCode.DENIALS_USER:
        return gettext("%(who)sの操作が%(minutes)s分以内に%(n)s回拒否されました。") % {
            "who": _who(p, names),
            "minutes": p["minutes"],
            "n": n,
        }
    if code == SummaryCode.DENIALS_IP:
        return gettext("IPアドレス %(ip)s からの操作が%(minutes)s分以内に%(n)s回拒否されました。") % {
            "ip": p["ip"],
            "minutes": p["minutes"],
            "n": n,
        }
    if code == SummaryCode.BREAK_GLASS:
        return gettext("%(who)sが緊急アクセスを利用しました（対象者 %(client)s）。") % {
            "who": _who(p, names),
            "client": _clients(p, names),
        }
    if code == SummaryCode.BREAK_GLASS_RENEWAL:
        return gettext("%(who)sが緊急アクセスを延長しました（対象者 %(client)s、新しい理由で再申請）。") % {
            "who": _who(p, names),
            "client": _clients(p, names),
        }
    if code in (SummaryCode.SHARE_REVOKED, SummaryCode.SHARE_EXPIRED):
        message = (
            gettext(
                "%(agency)sの共有が取り消されてから%(hours)s時間以内に、同機関の利用者（%(users)s）が"
                "対象者 %(client)s の記録に%(attempts)s回アクセスしようとしました。"
            )
            if code == SummaryCode.SHARE_REVOKED
            else gettext(
                "%(agency)sの共有が期限切れになってから%(hours)s時間以内に、同機関の利用者（%(users)s）が"
                "対象者 %(client)s の記録に%(attempts)s回アクセスしようとしました。"
            )
        )
        return message % {
            "agency": names.agency(str(p.get("agency", ""))),
            "hours": p["hours"],
            "users": gettext("、").join(names.user(str(u)) for u in p.get("users", [])),
            "client": _clients(p, names),
            "attempts": max(0, n - 1),
        }
    return ""


def render_ja(code: str, params: dict[str, Any]) -> str:
    """The Japanese wording stored with the flag (codes and ids as they are)."""
    with translation.override("ja"):
        return render(code, params)
