"""Who may see which client: the single place where case permissions are decided.

An agency sees a client only while it holds an active share (not revoked, not expired: expiry is checked here, at
access time, not only by the sweep) *and* the matching django-guardian object permissions on its group. Anything
else is "not found", the same as a client that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Agency, Role
from audit.refusals import Refusal, refusals_audited
from tsunagu.errors import Forbidden, NotFound
from tsunagu.ids import parse_uuid

from .models import (
    ALL_CLIENT_PERMS,
    LEVEL_RANK,
    USER_ENTRY_KINDS,
    BreakGlassGrant,
    Client,
    ClientGroupObjectPermission,
    Share,
    ShareLevel,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class Access:
    client: Client
    share: Share | None  # the share that authorises the access, or None under break-glass
    level: str
    agency: Agency  # the actor's agency, for which access was checked
    break_glass: BreakGlassGrant | None = None

    def at_least(self, level: str) -> bool:
        return level_at_least(self.level, level)

    @property
    def authorised_by(self) -> str:
        """For the audit: ``share:<id>`` or ``break_glass:<id>``."""
        if self.share is not None:
            return f"share:{self.share.pk}"
        assert self.break_glass is not None  # an access goes by a share or by break-glass
        return f"break_glass:{self.break_glass.pk}"


# --- what an actor may do with a client it sees ----------------------------------------------------------
# The services refuse by these rules, and the read models carry them as flags (``ClientView.can_append``,
# ``ClientView.can_manage_shares``, ``EntryView.can_correct``): a page offers exactly what the service allows.


def level_at_least(level: str, need: str) -> bool:
    return LEVEL_RANK[level] >= LEVEL_RANK[need]


def writes_entries(actor: Actor) -> bool:
    """Writing on a timeline needs a staff role as well as the ``append`` level."""
    return actor.has_staff_role


def is_own_entry(actor: Actor, agency_id: int | None) -> bool:
    """An entry written by the actor's agency: the only kind of entry it may correct."""
    return actor.agency is not None and agency_id == actor.agency.pk


def may_append(actor: Actor, level: str) -> bool:
    """What ``timeline_append`` checks: the ``append`` level (``client_access``) and a staff role."""
    return level_at_least(level, ShareLevel.APPEND) and writes_entries(actor)


def may_correct(actor: Actor, level: str, *, kind: str, agency_id: int | None) -> bool:
    """What a correction adds: an entry people wrote (not a system one), written by the actor's agency."""
    return may_append(actor, level) and kind in USER_ENTRY_KINDS and is_own_entry(actor, agency_id)


def attachment_masked(actor: Actor, client: Client, *, uploader_agency_id: int | None) -> bool:
    """An attachment of a client whose address is confidential (DV等) is withheld, like the address, from every
    agency but the client's owner and the agency that uploaded it: a photo or a form may show where the person
    lives. The entry itself is visible as usual."""
    if not client.address_confidential or actor.agency is None:
        return client.address_confidential
    return actor.agency.pk not in (client.owner_agency_id, uploader_agency_id)


def may_manage_shares(actor: Actor, level: str) -> bool:
    """What the sharing page, ``share_grant`` and ``share_revoke`` check: ``manage`` and a share-manager role."""
    return level_at_least(level, ShareLevel.MANAGE) and actor.can_manage_shares


# Who may set their agency's 担当者 on a client the agency sees (``cases.services.assignments``): its people who work
# cases or run the agency, never an integration; and whom they may assign: colleagues who work cases (an agency
# administrator too, in a small agency where they do) — never an officer whose role does no casework.
ASSIGNING_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.AGENCY_ADMIN})


def may_assign(actor: Actor, *, via_break_glass: bool) -> bool:
    """The agency's own share, not an emergency grant (the client is not the agency's case), and a staff role in
    ``ASSIGNING_ROLES``. Any share level: assigning organises the agency's work, it changes nothing of the client."""
    return not via_break_glass and actor.reads_cases and actor.role in ASSIGNING_ROLES


def may_edit_client(level: str) -> bool:
    """What ``client_update`` and ``client_status_change`` check (``client_access`` at ``manage``): profile edits
    and status changes need the ``manage`` level, in any staff role (PRODUCT §4.3); break-glass reads only."""
    return level_at_least(level, ShareLevel.MANAGE)


# Internal: why access was refused (raised inside ``client_access``). Adapters only ever see NotFound or Forbidden.
Denied = Refusal


def active_shares(agency: Agency, now: datetime | None = None) -> QuerySet[Share]:
    return Share.objects.filter(agency=agency).active(now)


def active_break_glass(user: User, agency: Agency, now: datetime | None = None) -> QuerySet[BreakGlassGrant]:
    now = now or timezone.now()
    return BreakGlassGrant.objects.filter(user=user, agency=agency, ended_at=None, expires_at__gt=now)


def visible_clients(agency: Agency, user: User | None = None) -> QuerySet[Client]:
    """Clients the agency may see (plus the user's active break-glass grants), annotated with ``my_level``.

    The same rule as guardian's ``get_objects_for_group`` and the share check, read from the permission rows
    themselves: the client's id among the ids the agency group holds ``view_client`` on (one index range of the
    group-object-permission table, hashed once per statement), and an active share of the agency for the client (a
    probe of the share index per candidate row). No self-join on clients: guardian's queryset, used as a subquery,
    looked every permitted client up by key on each page."""
    share = active_shares(agency).filter(client=OuterRef("pk"))
    shared: Q | Combinable = Q(pk__in=group_permissions(agency, "view_client").values("content_object_id")) & Exists(
        share
    )
    if user is not None:
        shared |= Exists(active_break_glass(user, agency).filter(client=OuterRef("pk")))
    return Client.objects.filter(shared).annotate(
        my_level=Coalesce(Subquery(share.values("level")[:1]), Value(ShareLevel.READ)),
    )


def actor_visible_clients(actor: Actor) -> QuerySet[Client]:
    """``visible_clients`` for an actor: nothing without an agency or for an officer who does no casework, and an
    officer's break-glass grants never count (PRODUCT §4.4)."""
    if actor.agency is None or not actor.reads_cases:
        return Client.objects.none()
    return visible_clients(actor.agency, actor.account if actor.may_break_glass else None)


def _level_from_perms(codenames: set[str]) -> str | None:
    if "view_client" not in codenames:
        return None
    if "manage_client" in codenames and "append_client" in codenames:
        return ShareLevel.MANAGE
    if "append_client" in codenames:
        return ShareLevel.APPEND
    return ShareLevel.READ


def group_permissions(agency: Agency, codename: str) -> QuerySet[ClientGroupObjectPermission]:
    """The agency group's guardian object permission ``codename`` (``view_client`` …) on clients: the rows
    ``get_group_perms`` and ``get_objects_for_group`` read, queried directly (no global permissions: none are
    granted on clients). The permission is matched by id through a scalar subquery, so that the index on (group,
    permission, client) is used as one ordered range."""
    permission = Permission.objects.filter(codename=codename, content_type=ContentType.objects.get_for_model(Client))
    return ClientGroupObjectPermission.objects.filter(
        group_id=agency.group_id, permission=Subquery(permission.order_by().values("pk")[:1])
    )


def check_access(actor: Actor, client_id: object, need: str, *, lock: bool = False) -> Access:
    """The client and the share that lets ``actor`` act on it at ``need`` level, or ``Denied``.

    An allowed access is one statement: the agency's active share of the client, the client (locked when asked)
    and the group's object permissions on it, read together. Without an active share, the client, any break-glass
    grant and the last share are looked up by id whether or not the client exists, so that a hidden client costs
    the same statements as a missing one and the response time does not tell them apart."""
    agency = actor.agency
    if agency is None:
        raise Denied("no_agency", NotFound())
    if not actor.reads_cases:
        raise Denied("privacy_officer", NotFound())
    pk = parse_uuid(client_id)
    if pk is None:
        raise Denied("not_found", NotFound())
    perms = {codename: f"perm_{codename}" for codename in ALL_CLIENT_PERMS}
    shares = (
        active_shares(agency)
        .filter(client_id=pk)
        .select_related("client__owner_agency")
        .annotate(
            **{
                name: Exists(group_permissions(agency, codename).filter(content_object=OuterRef("client_id")))
                for codename, name in perms.items()
            }
        )
    )
    if lock:
        shares = shares.select_for_update(of=("client",))
    share = shares.first()
    if share is None:
        clients = Client.objects.select_related("owner_agency")
        if lock:
            clients = clients.select_for_update(of=("self",))
        client = clients.filter(pk=pk).first()
        grant = None
        if actor.account is not None and actor.may_break_glass:
            grant = active_break_glass(actor.account, agency).filter(client_id=pk).order_by("-expires_at").first()
        lapsed = Share.objects.filter(client_id=pk, agency=agency).order_by("-granted_at").first()
        if client is None:
            raise Denied("not_found", NotFound())
        if grant is not None:
            if not level_at_least(ShareLevel.READ, need):
                raise Denied("break_glass_read_only", Forbidden())
            return Access(client=client, share=None, level=ShareLevel.READ, agency=agency, break_glass=grant)
        reason = "no_share"
        if lapsed is not None:
            if lapsed.revoked_at:
                reason = "share_revoked"
            elif lapsed.pending:  # a 支援会議's share its agency has not confirmed yet: it grants nothing
                reason = "share_pending"
            else:
                reason = "share_expired"
        raise Denied(reason, NotFound())
    client = share.client  # a share's client always exists (the foreign key is protected)
    guardian_level = _level_from_perms({codename for codename, name in perms.items() if getattr(share, name)})
    if guardian_level is None:
        raise Denied("no_permission", NotFound())
    # The share row and the object permissions are written together; if they ever disagree, the lower one wins.
    level = min(guardian_level, share.level, key=LEVEL_RANK.__getitem__)
    access = Access(client=client, share=share, level=level, agency=agency)
    if not access.at_least(need):
        raise Denied("insufficient_level", Forbidden())
    return access


def require_share_manager(actor: Actor, access: Access) -> None:
    """Share management needs ``manage`` and the supervisor or agency-administrator role (``may_manage_shares``,
    PRODUCT §4.3). Called first in a ``client_access`` block opened at ``read`` (a hidden client stays not found):
    whether the level or the role falls short, the refusal says who may manage shares, to the browser and the API
    alike. Raised inside ``client_access``, it is audited like any other."""
    if may_manage_shares(actor, access.level):
        return
    if access.at_least(ShareLevel.MANAGE):
        reason = "role"
    else:
        reason = "break_glass_read_only" if access.break_glass is not None else "insufficient_level"
    message = gettext("共有設定は、この支援対象者を管理する機関の管理職・主任または機関管理者のみが行えます。")
    raise Denied(reason, Forbidden(message))


@contextmanager
def client_access(*, actor: Actor, client_id: object, need: str, action: str, lock: bool = False) -> Iterator[Access]:
    """Check access and run the block in one transaction; a refusal is audited (denied) and re-raised."""
    with (
        refusals_audited(actor=actor, action=action, target_type="client", target_id=client_id),
        transaction.atomic(),
    ):
        yield check_access(actor, client_id, need, lock=lock)
