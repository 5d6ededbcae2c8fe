"""Object permissions (django-guardian) that mirror an agency's share of a client."""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import assign_perm, remove_perm

from agencies.models import Agency

from ..models import ALL_CLIENT_PERMS, LEVEL_PERMS, Client, ClientGroupObjectPermission


def grant_perms(client: Client, agency: Agency, level: str) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)
    for codename in LEVEL_PERMS[level]:
        assign_perm(f"cases.{codename}", agency.group, client)


def revoke_perms(client: Client, agency: Agency) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)


def add_perms(client: Client, agency: Agency, level: str) -> None:
    """``grant_perms`` for a client registered in this very transaction, whose permission rows for ``agency``
    cannot exist yet: the rows of ``level`` in one statement, without first removing what is not there (an
    import registers clients by the thousand)."""
    permissions = Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(Client), codename__in=LEVEL_PERMS[level]
    )
    ClientGroupObjectPermission.objects.bulk_create(
        [
            ClientGroupObjectPermission(group_id=agency.group_id, permission=permission, content_object=client)
            for permission in permissions
        ]
    )
