"""A code's label from its vocabulary (a Django ``TextChoices``), in the current language: an unknown code is shown
as itself, and no code (None, "") as nothing. Used by the template filters and the disclosure CSV."""

from django.db.models import TextChoices


def choice_label(choices: type[TextChoices], code: str | None) -> str:
    return str(choices(code).label) if code in choices.values else (code or "")
