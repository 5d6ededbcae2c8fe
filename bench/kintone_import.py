"""The kintone import at size, on PostgreSQL: how fast it goes and how much memory it takes.

    .venv/bin/python bench/kintone_import.py                 # 2,000 records, 3 table rows and 10 comments each
    KINTONE_RECORDS=20000 KINTONE_COMMENTS=50 .venv/bin/python bench/kintone_import.py

Writes an export in kintone's REST API formats (records.json with a 支援経過 table, one saved comments response per
record) to a temporary directory, then runs ``import_kintone`` twice on a fresh database (``tsunagu_bench_import``,
re-created each run) — a dry run and the import — and a third time to show that a re-run only reads. Prints records
and entries per second and the peak resident memory of the process, which must not grow with the export: compare
two sizes. The figures go to BENCHMARKS.md by hand (section "kintone import").
"""

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
os.environ.setdefault("DEBUG", "true")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench_import"
)

RECORDS = int(os.environ.get("KINTONE_RECORDS", "2000"))
ROWS = int(os.environ.get("KINTONE_ROWS", "3"))
COMMENTS = int(os.environ.get("KINTONE_COMMENTS", "10"))

MAPPING = """
[app]
id = "7"
creator = "作成者"

[client]
name = "氏名"
name_kana = "フリガナ"
birth_date = "生年月日"
address = "住所"

[[entries]]
from = "table"
table = "支援経過"
occurred_at = "対応日時"
body = ["対応内容"]
author = "対応者"
kind = { field = "対応種別", default = "note", values = { "訪問" = "visit", "電話" = "call" } }

[[entries]]
from = "comments"
kind = "liaison"

[agencies]
"org-a" = "bench-a"
"org-b" = "bench-b"

[users]
"user.a" = "bench"

[[shares]]
agency = "bench-b"
level = "read"
basis = "consent"
basis_note = "本人同意（移行時に確認）"
"""


def write_export(folder: Path) -> None:
    comments = folder / "comments"
    comments.mkdir()
    with open(folder / "records.json", "w", encoding="utf-8") as out:
        out.write('{"records": [')
        for i in range(RECORDS):
            record = {
                "$id": {"type": "__ID__", "value": str(i + 1)},
                "$revision": {"type": "__REVISION__", "value": "1"},
                "作成者": {"type": "CREATOR", "value": {"code": "user.a", "name": "移行 太郎"}},
                "氏名": {"type": "SINGLE_LINE_TEXT", "value": f"試験 太郎{i}"},
                "フリガナ": {"type": "SINGLE_LINE_TEXT", "value": f"シケン タロウ{chr(0x30A1 + i % 80)}"},
                "生年月日": {"type": "SINGLE_LINE_TEXT", "value": f"昭和{1 + i % 63}年{1 + i % 12}月{1 + i % 28}日"},
                "住所": {"type": "SINGLE_LINE_TEXT", "value": "新潟県三条市旭町2-3-1"},
                "支援経過": {
                    "type": "SUBTABLE",
                    "value": [
                        {
                            "id": str(i * 100 + r),
                            "value": {
                                "対応日時": {"type": "DATETIME", "value": f"2020-0{1 + r % 9}-1{r % 10}T01:00:00Z"},
                                "対応種別": {"type": "DROP_DOWN", "value": "訪問"},
                                "対応内容": {
                                    "type": "MULTI_LINE_TEXT",
                                    "value": "自宅を訪問し、生活状況を確認した。" * 4,
                                },
                                "対応者": {"type": "USER_SELECT", "value": [{"code": "user.b", "name": "未登録 花子"}]},
                            },
                        }
                        for r in range(ROWS)
                    ],
                },
            }
            out.write(("," if i else "") + json.dumps(record, ensure_ascii=False))
            page = {
                "comments": [
                    {
                        "id": str(c + 1),
                        "text": f"連絡事項 {c + 1}: 次回の訪問日を調整しました。",
                        "createdAt": f"2021-0{1 + c % 9}-0{1 + c % 9}T00:00:00Z",
                        "creator": {"code": "user.a", "name": "移行 太郎"},
                        "mentions": [],
                    }
                    for c in reversed(range(COMMENTS))
                ],
                "older": False,
                "newer": False,
            }
            (comments / f"{i + 1}.json").write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
        out.write("]}")


def recreate_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    from agencies.actors import Actor
    from agencies.models import Agency
    from agencies.services import agency_create, staff_create
    from cases.services.imports import import_kintone, import_start

    call_command("migrate", verbosity=0)
    system = Actor.system(channel="cli")
    agency_create(actor=system, code="bench-a", name="移行元", kind="city_division")
    agency_create(actor=system, code="bench-b", name="共有先", kind="welfare_council")
    staff_create(actor=system, username="bench", agency_code="bench-a", role="caseworker")
    owner = Agency.objects.get(code="bench-a")
    actor = Actor(user=None, agency=owner, role="", is_privacy_officer=False, channel="cli")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_export(folder)
        size = (folder / "records.json").stat().st_size / 1e6
        print(
            f"export: {RECORDS} records, {RECORDS * ROWS} rows, {RECORDS * COMMENTS} comments; "
            f"records.json {size:.1f} MB "
            f"(written in {time.perf_counter() - t0:.1f} s); peak memory so far {peak_mb():.0f} MB"
        )
        for label, dry in (("dry run", True), ("import", False), ("re-run", False)):
            run = import_start(actor=actor, mapping_text=MAPPING, dry_run=dry)
            t0 = time.perf_counter()
            run = import_kintone(actor=actor, run=run, records=folder / "records.json", comments=folder / "comments")
            took = time.perf_counter() - t0
            entries = run.counts.get("entries", 0)
            print(
                f"{label}: {took:.1f} s, {RECORDS / took:.0f} records/s, {entries / took:.0f} entries/s "
                f"({entries} entries), counts {run.counts}; peak memory {peak_mb():.0f} MB"
            )


if __name__ == "__main__":
    main()
