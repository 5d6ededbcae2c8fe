"""How a person is named to other people: the staff display name, else the account's 姓 名 (Japanese order:
family name first), else the user name. The user name itself is a login, shown only beside a name."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext


def person_name(user: AbstractBaseUser | None) -> str:
    """``None`` (work done by the system itself) is 「システム」."""
    if user is None:
        return gettext("システム")
    staff = getattr(user, "staff", None)
    if staff is not None and staff.display_name:
        return staff.display_name
    family, given = getattr(user, "last_name", ""), getattr(user, "first_name", "")
    full = f"{family} {given}".strip()
    return full or user.get_username()
