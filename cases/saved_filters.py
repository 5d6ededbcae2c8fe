"""Saved filters of the case list (保存した絞り込み): a user's own named combinations of tab, status, tag and sort.

A preference, not case data: it never holds a search term (a typed search is usually a name or a case number),
so saving, listing and deleting one reads no client and is not an access to audit. Each user sees and changes only
their own; another user's filter is "not found".
"""

from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from agencies.actors import Actor
from tsunagu.errors import InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from .models import ClientStatus, ListScope, ListSort, SavedListFilter
from .selectors import client_list_errors
from .services.validation import MAX_TAG_LENGTH

MAX_SAVED_FILTERS = 20  # per user
MAX_NAME = 40


@dataclass(frozen=True)
class SavedFilterView:
    id: UUID
    name: str
    scope: str
    status: str
    tag: str
    sort: str

    @property
    def conditions(self) -> dict[str, str]:
        """The list conditions it stands for (no search term)."""
        return {"q": "", "scope": self.scope, "status": self.status, "tag": self.tag, "sort": self.sort}

    @classmethod
    def of(cls, row: SavedListFilter) -> "SavedFilterView":
        return cls(id=row.id, name=row.name, scope=row.scope, status=row.status, tag=row.tag, sort=row.sort)


def saved_filter_list(*, actor: Actor) -> list[SavedFilterView]:
    """The actor's saved filters, by name."""
    if actor.account is None:
        return []
    return [SavedFilterView.of(f) for f in SavedListFilter.objects.filter(user=actor.account).order_by("name", "id")]


def saved_filter_get(*, actor: Actor, filter_id: object) -> SavedFilterView:
    """One of the actor's saved filters; anyone else's, or none, is not found."""
    pk = parse_uuid(filter_id)
    row = SavedListFilter.objects.filter(pk=pk, user=actor.account).first() if pk and actor.account else None
    if row is None:
        raise NotFound(gettext("保存した絞り込みが見つかりません。"))
    return SavedFilterView.of(row)


def saved_filter_save(
    *, actor: Actor, name: str, scope: str = "", status: str = "", tag: str = "", sort: str = ""
) -> SavedFilterView:
    """Save the conditions under ``name`` (a filter of the same name is replaced)."""
    if actor.account is None:  # a system job or an anonymous caller: nobody to save it for
        raise InvalidInput({"name": [gettext("絞り込みを保存できるのはログインした利用者のみです。")]})
    name = " ".join((name or "").split())
    scope, status, tag, sort = (str(v or "").strip() for v in (scope, status, tag, sort))
    errors = client_list_errors(status=status, scope=scope, sort=sort)
    if not name:
        errors["name"] = [gettext("名前を入力してください。")]
    elif len(name) > MAX_NAME:
        errors["name"] = [gettext("名前は%(max)s文字以内で入力してください。") % {"max": MAX_NAME}]
    if len(tag) > MAX_TAG_LENGTH:
        errors["tag"] = [gettext("タグは%(max)s文字以内で指定してください。") % {"max": MAX_TAG_LENGTH}]
    if errors:
        raise InvalidInput(errors)
    values = {
        "scope": scope or ListScope.ALL,
        "status": status if status in ClientStatus.values else "",
        "tag": tag,
        "sort": sort or ListSort.KANA_ASC,
    }
    with transaction.atomic():
        mine = SavedListFilter.objects.select_for_update().filter(user=actor.account)
        row = mine.filter(name=name).first()
        if row is None and mine.count() >= MAX_SAVED_FILTERS:
            raise InvalidInput(
                {"name": [gettext("保存できる絞り込みは%(max)s件までです。") % {"max": MAX_SAVED_FILTERS}]}
            )
        if row is None:
            try:
                with transaction.atomic():
                    row = SavedListFilter.objects.create(
                        user=actor.account, name=name, created_at=actor.now(), **values
                    )
            except IntegrityError:
                raise InvalidInput({"name": [gettext("同じ名前の絞り込みが同時に保存されました。")]}) from None
        else:
            for field, value in values.items():
                setattr(row, field, value)
            row.save(update_fields=list(values))
    return SavedFilterView.of(row)


def saved_filter_delete(*, actor: Actor, filter_id: object) -> None:
    """Delete one of the actor's saved filters; anyone else's, or none, is not found."""
    pk = parse_uuid(filter_id)
    deleted = SavedListFilter.objects.filter(pk=pk, user=actor.account).delete()[0] if pk and actor.account else 0
    if not deleted:
        raise NotFound(gettext("保存した絞り込みが見つかりません。"))
