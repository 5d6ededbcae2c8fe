"""Object permissions (django-guardian) that mirror an agency's share of a client."""

from guardian.shortcuts import assign_perm, remove_perm

from agencies.models import Agency

from ..models import ALL_CLIENT_PERMS, LEVEL_PERMS, Client


def grant_perms(client: Client, agency: Agency, level: str) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)
    for codename in LEVEL_PERMS[level]:
        assign_perm(f"cases.{codename}", agency.group, client)


def revoke_perms(client: Client, agency: Agency) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)
