"""Record comments, as saved from kintone's REST API ``GET /k/v1/record/comments.json``.

That endpoint gives at most 10 comments a call (newest first, with ``older`` / ``newer`` to page on), so one record's
comments may be in several saved responses. The layout this importer reads, in the directory given with
``--comments``::

    DIR/<record id>.json              one response, or
    DIR/<record id>_<anything>.json   any number of pages (12_1.json, 12_2.json…), and/or
    DIR/<record id>/<anything>.json   the pages in a directory of the record's own

Each file is the endpoint's response ``{"comments": [...], "older": …, "newer": …}`` (a bare list of comment objects
is accepted too). All files of a record are merged, a comment in two pages (overlapping saves) is kept once (by its
id), and the comments come out oldest first (by their numeric id, which kintone counts up per record). A record
without files has no comments.

A comment kintone could not have written (no id, no creator, no time with a zone…) is left out and reported in
``Comments.problems`` with the rest of the record's comments read; so is a file that is not JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .model import Entity, KComment

MAX_COMMENT_FILE_BYTES = 16 * 1024 * 1024  # a page is 10 comments; anything this big is not a saved response


@dataclass
class Comments:
    """One record's comments, oldest first, and what was left out: (comment id or file name, Japanese message)."""

    comments: list[KComment] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


class CommentIndex:
    """Which files hold which record's comments, from one listing of the directory: an export of 100,000 records
    has as many files or more, and listing the directory once per record would make a run quadratic. Holds file
    names only (a few dozen bytes each), never comments."""

    def __init__(self, directory: str | Path):
        self.root = Path(directory)
        self.files: dict[str, list[str]] = {}
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_file() and entry.name.endswith(".json"):
                    record_id = entry.name[: -len(".json")].split("_", 1)[0]
                    self.files.setdefault(record_id, []).append(entry.name)
                elif entry.is_dir() and not entry.name.startswith("."):
                    pages = [
                        f"{entry.name}/{name}" for name in sorted(os.listdir(entry.path)) if name.endswith(".json")
                    ]
                    if pages:
                        self.files.setdefault(entry.name, []).extend(pages)

    def paths(self, record_id: str) -> list[Path]:
        """The files holding ``record_id``'s comments, in name order."""
        if not record_id or "/" in record_id or "\\" in record_id or record_id.startswith("."):
            return []
        return [self.root / name for name in sorted(self.files.get(record_id, ())) if (self.root / name).is_file()]

    def read(self, record_id: str) -> Comments:
        return read_files(self.root, self.paths(record_id))


def comment_files(directory: Path, record_id: str) -> list[Path]:
    """The files holding ``record_id``'s comments, in name order (one record: a run uses a ``CommentIndex``)."""
    return CommentIndex(directory).paths(record_id)


def read_comments(directory: str | Path, record_id: str) -> Comments:
    """One record's comments (a run reads many through one ``CommentIndex``)."""
    return CommentIndex(directory).read(record_id)


def read_files(root: Path, paths: list[Path]) -> Comments:
    result = Comments()
    seen: dict[str, KComment] = {}
    for path in paths:
        label = path.relative_to(root).as_posix()
        try:
            if path.stat().st_size > MAX_COMMENT_FILE_BYTES:
                raise ValueError("ファイルが大きすぎます")
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            result.problems.append((label, f"コメントのファイル {label} が読めません: {error}"))
            continue
        items = data.get("comments") if isinstance(data, dict) else data
        if not isinstance(items, list):
            result.problems.append((label, f"コメントのファイル {label} に comments のリストがありません。"))
            continue
        for position, item in enumerate(items, start=1):
            comment = comment_from_json(item)
            if isinstance(comment, str):
                item_id = item.get("id") if isinstance(item, dict) else None
                key = str(item_id) if isinstance(item_id, str | int) and str(item_id) else f"{label}#{position}"
                result.problems.append((key, f"コメント {key}: {comment}"))
            elif comment.id not in seen:
                seen[comment.id] = comment
    result.comments = sorted(seen.values(), key=order_key)
    return result


def order_key(comment: KComment) -> tuple[int, str]:
    return (int(comment.id), "") if comment.id.isdigit() else (1 << 62, comment.id)


def comment_from_json(item: object) -> KComment | str:
    """The comment, or why it cannot be one (Japanese)."""
    if not isinstance(item, dict):
        return "コメントがオブジェクトではありません。"
    comment_id = item.get("id")
    if not isinstance(comment_id, str | int) or isinstance(comment_id, bool) or not str(comment_id).strip():
        return "id がありません。"
    text = item.get("text")
    if not isinstance(text, str):
        return "本文 (text) がありません。"
    created = item.get("createdAt")
    try:
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        created_at = None
    if created_at is None or created_at.tzinfo is None:
        return f"日時 (createdAt) が読めません: {created!r}"
    creator = item.get("creator")
    if not isinstance(creator, dict) or not isinstance(creator.get("code"), str) or not creator["code"]:
        return "投稿者 (creator) がありません。"
    mentions = []
    for mention in item.get("mentions") or []:
        if not isinstance(mention, dict) or not isinstance(mention.get("code"), str) or not mention["code"]:
            return "宛先 (mentions) の形が違います。"
        mentions.append(Entity(mention["code"], str(mention.get("type") or "USER")))
    name = creator.get("name")
    return KComment(
        id=str(comment_id).strip(),
        text=text,
        created_at=created_at.astimezone(UTC),
        creator=Entity(creator["code"], name if isinstance(name, str) and name else creator["code"]),
        mentions=tuple(mentions),
    )
