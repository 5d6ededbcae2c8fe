"""The mapping file (TOML, see docs/kintone-mapping.example.toml): which kintone field becomes which part of a
client, which tables and comments become timeline entries, which kintone organizations and users are which Tsunagu
agencies and users, and with whom the imported clients are shared and on what basis.

``load_mapping`` checks the whole file before anything is read and reports every mistake at once, each with where
it is in the file: an operator fixing a mapping should not have to run the import once per typo. ``Mapping.plan``
then turns one kintone record into a ``RecordPlan``; what it cannot use is a ``Problem`` in the plan, never an
exception, so that one bad record does not stop a run.

Pure, like the rest of the package: the Tsunagu vocabularies it checks against (entry kinds, share levels and
bases, the body limit) are copied here, and tests/kintone/test_mapping.py holds them equal to the models'.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .dates import DateParseError, parse_date, parse_datetime
from .model import Entity, KComment, KField, KRecord, KRow
from .plan import EntryPlan, Problem, RecordPlan, ShareSpec

# Copies of Tsunagu's vocabularies (cases.models / cases.services.validation), kept equal by the tests.
USER_ENTRY_KINDS = ("consultation", "visit", "call", "meeting", "liaison", "service", "note")
SHARE_LEVELS = ("read", "append", "manage")
SHARE_BASES = ("consent", "support_meeting", "statutory", "emergency")
MAX_BODY = 20000
MAX_TAGS = 10
MAX_TAG_LENGTH = 20
MAX_BASIS_NOTE = 500
MAX_EXPIRES_IN_DAYS = 3650
DEFAULT_KIND = "note"
_LEVEL_RANK = {level: rank for rank, level in enumerate(SHARE_LEVELS)}


class MappingError(ValueError):
    """Everything wrong with a mapping file, one Japanese message per mistake."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class KindSpec:
    """An entry's kind: ``fixed``, or read from ``field`` through ``values`` (``default`` for an empty or unlisted
    value; without one such a row is left out)."""

    fixed: str | None = None
    field: str = ""
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class ClientSpec:
    name: str
    name_kana: str
    birth_date: str
    address: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()
    tag_values: dict[str, str] = dataclasses.field(default_factory=dict)
    confidential_field: str | None = None
    confidential_values: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableEntries:
    """``[[entries]] from = "table"``: one entry per row of ``table``."""

    table: str
    occurred_at: str
    body: tuple[str, ...]
    kind: KindSpec
    author: str | None = None
    agency: str | None = None

    def fields(self) -> list[str]:
        codes = [self.occurred_at, *self.body, self.author, self.agency, self.kind.field]
        return list(dict.fromkeys(code for code in codes if code))


@dataclass(frozen=True)
class CommentEntries:
    """``[[entries]] from = "comments"``: one entry per record comment."""

    kind: str


@dataclass(frozen=True)
class ShareRule:
    """``[[shares]]``: a share with one ``agency``, or with each organization named in ``from_field``."""

    level: str
    basis: str
    basis_note: str
    agency: str | None = None
    from_field: str | None = None
    expires_in_days: int | None = None


@dataclass(frozen=True)
class Mapping:
    app_id: str
    record_id_column: str | None  # the record id's field / column; None: found by the readers
    client: ClientSpec
    entries: tuple[TableEntries | CommentEntries, ...] = ()
    shares: tuple[ShareRule, ...] = ()
    agencies: dict[str, str] = dataclasses.field(default_factory=dict)
    users: dict[str, str] = dataclasses.field(default_factory=dict)
    creator: str | None = None  # [app].creator: the field holding the record's creator (the CSV's 作成者 column)

    def tables(self) -> dict[str, list[str]]:
        """Table code → the field codes the mapping reads in its rows (what a CSV reader must keep)."""
        return {spec.table: spec.fields() for spec in self.entries if isinstance(spec, TableEntries)}

    def record_fields(self) -> list[str]:
        """The record's own fields (outside tables) the mapping reads."""
        client = self.client
        codes = [
            client.name,
            client.name_kana,
            client.birth_date,
            client.address,
            client.phone,
            *client.tags,
            client.confidential_field,
            self.creator,
            *(rule.from_field for rule in self.shares),
        ]
        return list(dict.fromkeys(code for code in codes if code))

    def missing_fields(self, record: KRecord) -> list[str]:
        """The mapped fields and tables a record does not have at all: on a run's first record, most likely a
        field code misspelt in the mapping (or a CSV exported without that column)."""
        missing = [code for code in self.record_fields() if code not in record.fields]
        return missing + [code for code in self.tables() if code not in record.tables]

    def agency_codes(self) -> list[str]:
        """Every Tsunagu agency code the mapping names ([agencies] and the shares'): what the import looks up."""
        codes = [*self.agencies.values(), *(rule.agency for rule in self.shares if rule.agency)]
        return list(dict.fromkeys(codes))

    def usernames(self) -> list[str]:
        """Every Tsunagu username the mapping names ([users])."""
        return list(dict.fromkeys(self.users.values()))

    @property
    def reads_comments(self) -> bool:
        return any(isinstance(spec, CommentEntries) for spec in self.entries)

    # --- one record ---------------------------------------------------------------------------------------------

    def plan(self, record: KRecord, comments: Sequence[KComment] = (), *, now: datetime) -> RecordPlan:
        """What to import from ``record`` (and its ``comments``); ``now`` (aware) dates the shares' expiry."""
        if now.tzinfo is None:
            raise ValueError("now must be aware")
        plan = RecordPlan(
            record_id=record.record_id, revision=record.revision, where=record.where, profile=self._profile(record)
        )
        plan.problems.extend(self._profile_problems(record, plan.profile))
        plan.shares, share_problems = self._shares(record, now)
        plan.problems.extend(share_problems)
        creator = self._creator(record)
        for spec in self.entries:
            if isinstance(spec, TableEntries):
                for row in record.tables.get(spec.table, []):
                    self._row(spec, row, creator, plan)
            else:
                for comment in comments:
                    self._comment(spec, comment, plan)
        plan.entries.sort(key=lambda entry: (entry.occurred_at, entry.item_id))
        return plan

    def _profile(self, record: KRecord) -> dict[str, object]:
        """The client's fields as clean_profile takes them. Only what the mapping maps: an unmapped address is
        left alone by a second run rather than emptied. The birth date is a ``date`` (absent when unreadable);
        clean_profile itself normalises the フリガナ (hiragana, half-width kana)."""
        spec = self.client
        profile: dict[str, object] = {
            "name": " ".join(_text(record.fields.get(spec.name)).split()),
            "name_kana": " ".join(_text(record.fields.get(spec.name_kana)).split()),
        }
        with contextlib.suppress(DateParseError):
            profile["birth_date"] = parse_date(_text(record.fields.get(spec.birth_date)))
        if spec.address:
            profile["address"] = _text(record.fields.get(spec.address))
        if spec.phone:
            profile["phone"] = _text(record.fields.get(spec.phone))
        if spec.tags:
            tags: list[str] = []
            for code in spec.tags:
                for value in _values(record.fields.get(code)):
                    tag = spec.tag_values.get(value, value).strip()
                    if tag and tag not in tags:
                        tags.append(tag)
            profile["tags"] = tags
        if spec.confidential_field:
            values = _values(record.fields.get(spec.confidential_field))
            profile["address_confidential"] = any(value in spec.confidential_values for value in values)
        return profile

    def _profile_problems(self, record: KRecord, profile: dict[str, object]) -> list[Problem]:
        problems = []
        if not profile["name"]:
            problems.append(Problem("missing_name", "氏名がありません"))
        if not profile["name_kana"]:
            problems.append(Problem("missing_kana", "フリガナがありません"))
        raw = _text(record.fields.get(self.client.birth_date))
        if not raw:
            problems.append(Problem("missing_birth_date", "生年月日がありません"))
        else:
            try:
                parse_date(raw)
            except DateParseError as error:
                problems.append(Problem("bad_date", f"生年月日を読めません: {error}"))
        tags = profile.get("tags")
        if isinstance(tags, list):
            bad = [tag for tag in tags if len(tag) > MAX_TAG_LENGTH or "|" in tag]
            if bad:
                problems.append(
                    Problem(
                        "bad_value",
                        f"タグ {'、'.join(bad)} は使えません ({MAX_TAG_LENGTH}文字以内、| なし)。"
                        "[client.tag_values] で短い名前に置き換えてください",
                    )
                )
            if len(tags) > MAX_TAGS:
                problems.append(Problem("bad_value", f"タグが{len(tags)}個あります (最大{MAX_TAGS}個)"))
        return problems

    def _shares(self, record: KRecord, now: datetime) -> tuple[list[ShareSpec], list[Problem]]:
        """The stated shares, one per agency (the highest level wins). An organization the mapping does not know
        is a problem of the record: sharing it with the wrong agency is worse than not importing it."""
        shares: dict[str, ShareSpec] = {}
        problems: list[Problem] = []
        for rule in self.shares:
            expires_at = now + timedelta(days=rule.expires_in_days) if rule.expires_in_days else None
            if rule.agency is not None:
                agencies = [rule.agency]
            else:
                agencies = []
                for code in _codes(record.fields.get(rule.from_field or "")):
                    if code in self.agencies:
                        agencies.append(self.agencies[code])
                    else:
                        problem = Problem("unknown_agency", f"組織 {code} に対応する機関が対応表にありません")
                        if problem not in problems:
                            problems.append(problem)
            for agency in agencies:
                spec = ShareSpec(agency, rule.level, rule.basis, rule.basis_note, expires_at)
                if agency not in shares or _LEVEL_RANK[rule.level] > _LEVEL_RANK[shares[agency].level]:
                    shares[agency] = spec
        return list(shares.values()), problems

    def _creator(self, record: KRecord) -> Entity | None:
        if self.creator:
            return _first_entity(record.fields.get(self.creator))
        for value in record.fields.values():
            if value.type == "CREATOR":
                return _first_entity(value)
        return None

    def _row(self, spec: TableEntries, row: KRow, creator: Entity | None, plan: RecordPlan) -> None:
        item = f"row {row.id}"
        raw_date = _text(row.fields.get(spec.occurred_at))
        body = _body(row, spec.body)
        if not raw_date and not body:
            return  # the empty row kintone leaves in a table nobody wrote in
        if not raw_date:
            plan.skipped_items.append(Problem("bad_date", f"{spec.occurred_at} がありません", item))
            return
        try:
            occurred_at = parse_datetime(raw_date)
        except DateParseError as error:
            plan.skipped_items.append(Problem("bad_date", f"{spec.occurred_at} を読めません: {error}", item))
            return
        if not body:
            plan.skipped_items.append(Problem("empty_body", "本文がありません", item))
            return
        if len(body) > MAX_BODY:
            plan.skipped_items.append(Problem("too_long", f"本文が{len(body)}文字あります (最大{MAX_BODY}文字)", item))
            return
        kind = _kind(spec.kind, row)
        if kind is None:
            value = next(iter(_values(row.fields.get(spec.kind.field))), "")
            plan.skipped_items.append(
                Problem("bad_value", f"{spec.kind.field} の値「{value}」に対応する記録の種類がありません", item)
            )
            return
        agency: str | None = None
        if spec.agency:
            codes = _codes(row.fields.get(spec.agency))
            if codes:
                if codes[0] not in self.agencies:
                    plan.skipped_items.append(
                        Problem("unknown_agency", f"組織 {codes[0]} に対応する機関が対応表にありません", item)
                    )
                    return
                agency = self.agencies[codes[0]]
        author = _first_entity(row.fields.get(spec.author)) if spec.author else None
        author = author or creator
        plan.entries.append(
            EntryPlan(
                item_type="row",
                item_id=f"{spec.table}:{row.id}",
                kind=kind,
                occurred_at=occurred_at,
                body=body,
                author_code=author.code if author else "",
                author_name=(author.name or author.code) if author else "",
                username=self.users.get(author.code) if author else None,
                agency=agency,
            )
        )

    def _comment(self, spec: CommentEntries, comment: KComment, plan: RecordPlan) -> None:
        item = f"comment {comment.id}"
        body = comment.text.strip()
        if not body:
            plan.skipped_items.append(Problem("empty_body", "本文がありません", item))
            return
        if len(body) > MAX_BODY:
            plan.skipped_items.append(Problem("too_long", f"本文が{len(body)}文字あります (最大{MAX_BODY}文字)", item))
            return
        author = comment.creator
        plan.entries.append(
            EntryPlan(
                item_type="comment",
                item_id=comment.id,
                kind=spec.kind,
                occurred_at=parse_datetime(comment.created_at),
                body=body,
                author_code=author.code,
                author_name=author.name or author.code,
                username=self.users.get(author.code),
                agency=None,
            )
        )


# --- reading field values (JSON values and the CSV's plain strings alike) -------------------------------------------


def _text(value: KField | None) -> str:
    """A field as text: stripped; a list a line per value; a user or organization by its name."""
    if value is None or value.value is None:
        return ""
    raw = value.value
    if isinstance(raw, Entity):
        return (raw.name or raw.code).strip()
    if isinstance(raw, list | tuple):
        parts = [(item.name or item.code) if isinstance(item, Entity) else str(item) for item in raw]
        return "\n".join(part.strip() for part in parts if part.strip())
    return str(raw).strip()


def _values(value: KField | None) -> list[str]:
    """A multi-valued field's values: a list as it is, a CSV's plain string a value per line."""
    if value is None or value.value is None:
        return []
    raw = value.value
    items = raw if isinstance(raw, list | tuple) else [raw]
    result = []
    for item in items:
        if isinstance(item, Entity):
            result.append(item.code.strip())
        else:
            result.extend(line.strip() for line in str(item).splitlines())
    return [item for item in result if item]


def _codes(value: KField | None) -> list[str]:
    """The codes of the users or organizations in a ``*_SELECT`` field (the CSV: a code per line)."""
    return _values(value)


def _first_entity(value: KField | None) -> Entity | None:
    if value is None or value.value is None:
        return None
    raw = value.value
    if isinstance(raw, Entity):
        return raw if raw.code else None
    items = raw if isinstance(raw, list | tuple) else [raw]
    for item in items:
        if isinstance(item, Entity):
            if item.code:
                return item
        else:
            for line in str(item).splitlines():
                if line.strip():
                    return Entity(line.strip(), line.strip())
    return None


def _body(row: KRow, codes: tuple[str, ...]) -> str:
    if len(codes) == 1:
        return _text(row.fields.get(codes[0]))
    parts = [(code, _text(row.fields.get(code))) for code in codes]
    return "\n\n".join(f"【{code}】\n{text}" for code, text in parts if text)


def _kind(spec: KindSpec, row: KRow) -> str | None:
    if spec.fixed is not None:
        return spec.fixed
    values = _values(row.fields.get(spec.field))  # a check box or a CSV's lines: the first value
    return spec.values.get(values[0], spec.default) if values else spec.default


# --- loading ----------------------------------------------------------------------------------------------------


def load_mapping(source: str | Path) -> Mapping:
    """A mapping from TOML text, or from the file at a ``Path``; ``MappingError`` with every mistake otherwise. A
    string is always the text, never a file name: a mapping pasted in the browser must not name a file on the
    server."""
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise MappingError([f"対応表 {source} を読めません: {error}"]) from None
    else:
        text = source
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MappingError([f"対応表の TOML の書式が正しくありません: {error}"]) from None
    return _Loader().load(data)


_TOP_KEYS = ("app", "client", "entries", "agencies", "users", "shares")
_APP_KEYS = ("id", "record_id", "creator")
_CLIENT_KEYS = (
    "name",
    "name_kana",
    "birth_date",
    "address",
    "phone",
    "tags",
    "tag_values",
    "address_confidential",
)
_TABLE_KEYS = ("from", "table", "occurred_at", "body", "author", "agency", "kind")
_COMMENT_KEYS = ("from", "kind")
_KIND_KEYS = ("field", "values", "default")
_SHARE_KEYS = ("agency", "from_field", "level", "basis", "basis_note", "expires_in_days")


class _Loader:
    """Reads the parsed TOML, noting every mistake; ``load`` raises them all together."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def table(self, data: dict[str, Any], key: str, where: str, *, required: bool = False) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.error("対応表", f"{where} がありません")
            return {}
        if not isinstance(value, dict):
            self.error("対応表", f"{where} はテーブルで指定してください")
            return {}
        return value

    def keys(self, data: dict[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" ({close[0]} の誤りではありませんか)" if close else f" (使えるキー: {', '.join(allowed)})"
                self.error(where, f"不明なキー {key} があります{hint}")

    def string(self, data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(where, f"{key} がありません")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(where, f"{key} は空でない文字列で指定してください")
            return None
        return value.strip()

    def strings(self, data: dict[str, Any], key: str, where: str, *, required: bool = False) -> tuple[str, ...]:
        """A string or a list of strings."""
        value = data.get(key)
        if value is None:
            if required:
                self.error(where, f"{key} がありません")
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
            self.error(where, f"{key} は文字列または文字列のリストで指定してください")
            return ()
        return tuple(dict.fromkeys(item.strip() for item in items))

    def string_map(self, data: dict[str, Any], key: str, where: str, *, allow_empty: bool = False) -> dict[str, str]:
        table = self.table(data, key, where)
        result = {}
        for name, value in table.items():
            if not isinstance(value, str) or not (value.strip() or allow_empty):
                self.error(where, f'"{name}" の値は{"" if allow_empty else "空でない"}文字列で指定してください')
            else:
                result[name] = value.strip()
        return result

    def kind(self, value: str, where: str, key: str = "kind") -> str | None:
        if value not in USER_ENTRY_KINDS:
            self.error(where, f'{key} の値 "{value}" は記録の種類ではありません ({", ".join(USER_ENTRY_KINDS)})')
            return None
        return value

    def load(self, data: dict[str, Any]) -> Mapping:
        self.keys(data, _TOP_KEYS, "対応表")
        app = self.table(data, "app", "[app]", required=True)
        self.keys(app, _APP_KEYS, "[app]")
        app_id = app.get("id")
        if isinstance(app_id, int) and not isinstance(app_id, bool) and app_id > 0:
            app_id = str(app_id)
        if app_id is None:
            if isinstance(data.get("app"), dict):  # a missing [app] is one mistake, not two
                self.error("[app]", "id がありません")
        elif not isinstance(app_id, str) or not app_id.strip():
            self.error("[app]", "id はアプリ ID (文字列または数) で指定してください")
        record_id = self.string(app, "record_id", "[app]")  # None: $id, else レコード番号 / レコードID (the readers)
        creator = self.string(app, "creator", "[app]")
        client_table = self.table(data, "client", "[client]", required=True)
        client = self.client(client_table) if isinstance(data.get("client"), dict) else None
        entries = self.entries(data.get("entries"))
        shares = self.shares(data.get("shares"))
        agencies = self.string_map(data, "agencies", "[agencies]")
        users = self.string_map(data, "users", "[users]")
        if self.errors or client is None:
            raise MappingError(self.errors or ["対応表: [client] がありません"])
        assert isinstance(app_id, str)
        return Mapping(
            app_id=app_id.strip(),
            record_id_column=record_id,
            client=client,
            entries=entries,
            shares=shares,
            agencies=agencies,
            users=users,
            creator=creator,
        )

    def client(self, data: dict[str, Any]) -> ClientSpec | None:
        where = "[client]"
        self.keys(data, _CLIENT_KEYS, where)
        name = self.string(data, "name", where, required=True)
        kana = self.string(data, "name_kana", where, required=True)
        birth = self.string(data, "birth_date", where, required=True)
        address = self.string(data, "address", where)
        phone = self.string(data, "phone", where)
        tags = self.strings(data, "tags", where)
        # A value renamed to "" is dropped (a choice such as 対象外 that is no tag).
        tag_values = self.string_map(data, "tag_values", "[client.tag_values]", allow_empty=True)
        confidential_field, confidential_values = None, frozenset[str]()
        if "address_confidential" in data:
            conf_where = "[client] address_confidential"
            conf = data["address_confidential"]
            if not isinstance(conf, dict):
                self.error(where, 'address_confidential は { field = "…", values = ["…"] } で指定してください')
            else:
                self.keys(conf, ("field", "values"), conf_where)
                confidential_field = self.string(conf, "field", conf_where, required=True)
                confidential_values = frozenset(self.strings(conf, "values", conf_where, required=True))
        if name is None or kana is None or birth is None:
            return None
        return ClientSpec(
            name=name,
            name_kana=kana,
            birth_date=birth,
            address=address,
            phone=phone,
            tags=tags,
            tag_values=tag_values,
            confidential_field=confidential_field,
            confidential_values=confidential_values,
        )

    def entries(self, data: object) -> tuple[TableEntries | CommentEntries, ...]:
        if data is None:
            return ()
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            self.error("対応表", "entries は [[entries]] の表の並びで指定してください")
            return ()
        result: list[TableEntries | CommentEntries] = []
        seen_tables: set[str] = set()
        for number, item in enumerate(data, start=1):
            where = f"[[entries]] {number}件目"
            source = item.get("from")
            if source == "table":
                self.keys(item, _TABLE_KEYS, where)
                spec = self.table_entries(item, where)
                if spec is not None:
                    if spec.table in seen_tables:
                        self.error(where, f"テーブル {spec.table} は前の [[entries]] にもあります")
                    seen_tables.add(spec.table)
                    result.append(spec)
            elif source == "comments":
                self.keys(item, _COMMENT_KEYS, where)
                kind_value = item.get("kind", DEFAULT_KIND)
                if not isinstance(kind_value, str):
                    self.error(where, "コメントの kind は記録の種類 1 つ (文字列) で指定してください")
                elif (kind := self.kind(kind_value, where)) is not None:
                    if any(isinstance(spec, CommentEntries) for spec in result):
                        self.error(where, 'from = "comments" は 1 つだけにしてください')
                    result.append(CommentEntries(kind))
            elif source is None:
                self.error(where, 'from がありません ("table" または "comments")')
            else:
                self.error(where, f'from の値 "{source}" は使えません ("table" または "comments")')
        return tuple(result)

    def table_entries(self, item: dict[str, Any], where: str) -> TableEntries | None:
        table = self.string(item, "table", where, required=True)
        occurred_at = self.string(item, "occurred_at", where, required=True)
        body = self.strings(item, "body", where, required=True)
        author = self.string(item, "author", where)
        agency = self.string(item, "agency", where)
        kind = self.kind_spec(item.get("kind", DEFAULT_KIND), where)
        if table is None or occurred_at is None or not body or kind is None:
            return None
        return TableEntries(table, occurred_at, body, kind, author, agency)

    def kind_spec(self, value: object, where: str) -> KindSpec | None:
        if isinstance(value, str):
            kind = self.kind(value, where)
            return KindSpec(fixed=kind) if kind else None
        if not isinstance(value, dict):
            self.error(
                where, 'kind は記録の種類 (文字列) か { field = "…", values = { … }, default = "…" } で指定してください'
            )
            return None
        self.keys(value, _KIND_KEYS, f"{where} kind")
        kind_field = self.string(value, "field", f"{where} kind", required=True)
        ok = kind_field is not None
        values = {}
        raw_values = value.get("values", {})
        if not isinstance(raw_values, dict):
            self.error(f"{where} kind", 'values は { "kintone の値" = "記録の種類" } で指定してください')
            ok = False
        else:
            for choice, kind in raw_values.items():
                if not isinstance(kind, str):
                    self.error(f"{where} kind", f'values."{choice}" は記録の種類 (文字列) で指定してください')
                    ok = False
                elif self.kind(kind, f"{where} kind", f'values."{choice}"') is None:
                    ok = False
                else:
                    values[choice] = kind
        default = value.get("default")
        if default is not None:
            if not isinstance(default, str):
                self.error(f"{where} kind", "default は記録の種類 (文字列) で指定してください")
                ok = False
            elif self.kind(default, f"{where} kind", "default") is None:
                ok = False
        if not ok or kind_field is None:
            return None
        return KindSpec(field=kind_field, values=values, default=default)

    def shares(self, data: object) -> tuple[ShareRule, ...]:
        if data is None:
            return ()
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            self.error("対応表", "shares は [[shares]] の表の並びで指定してください")
            return ()
        result = []
        for number, item in enumerate(data, start=1):
            where = f"[[shares]] {number}件目"
            self.keys(item, _SHARE_KEYS, where)
            agency = self.string(item, "agency", where)
            from_field = self.string(item, "from_field", where)
            if ("agency" in item) == ("from_field" in item):
                self.error(
                    where, "agency (機関コード) と from_field (組織選択フィールド) のどちらか一方を指定してください"
                )
            level = item.get("level")
            if level is None:
                self.error(where, "level がありません (read / append / manage)")
            elif level not in SHARE_LEVELS:
                self.error(where, f'level の値 "{level}" は共有の範囲ではありません (read / append / manage)')
            basis = item.get("basis")
            if basis is None:
                self.error(where, f"basis がありません ({' / '.join(SHARE_BASES)})")
            elif basis not in SHARE_BASES:
                self.error(where, f'basis の値 "{basis}" は共有の根拠ではありません ({" / ".join(SHARE_BASES)})')
            note = self.string(item, "basis_note", where, required=True)
            if note is not None and len(note) > MAX_BASIS_NOTE:
                self.error(where, f"basis_note は{MAX_BASIS_NOTE}文字以内にしてください")
            days = item.get("expires_in_days")
            if days is not None and (
                not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EXPIRES_IN_DAYS
            ):
                self.error(where, f"expires_in_days は 1〜{MAX_EXPIRES_IN_DAYS} の日数で指定してください")
                days = None
            if (agency is None) == (from_field is None) or level not in SHARE_LEVELS or basis not in SHARE_BASES:
                continue
            if note is None:
                continue
            result.append(ShareRule(level, basis, note, agency, from_field, days))
        return tuple(result)
