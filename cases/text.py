"""Japanese text normalisation for search: フリガナ typed in hiragana or katakana, full or half width, match."""

import re
import unicodedata

from django.db.models import Func, TextField

_SPACES = re.compile(r"\s+")
_KANA_ONLY = re.compile(r"^[\u30a0-\u30ffー・\s]+$")


def to_katakana(text: str) -> str:
    """Hiragana → katakana (ぁ..ゖ and ゝゞ map 0x60 up); everything else unchanged."""
    return "".join(chr(ord(ch) + 0x60) if "\u3041" <= ch <= "\u3096" or ch in "ゝゞ" else ch for ch in text)


def normalize(text: str) -> str:
    """NFKC (half-width kana → full width, full-width digits → ASCII), katakana, no spaces, lower case."""
    return _SPACES.sub("", to_katakana(unicodedata.normalize("NFKC", text or ""))).lower()


def normalize_kana(text: str) -> str:
    """A フリガナ as stored: NFKC, katakana, single spaces kept between family and given name."""
    return " ".join(to_katakana(unicodedata.normalize("NFKC", text or "")).split())


def is_kana(text: str) -> bool:
    return bool(_KANA_ONLY.match(normalize_kana(text)))


# --- input formats (the API schema states them; the API checks raw input against them before the services run) ---

# Full-width hiragana (ぁ..ゖ, ゝゞ) and katakana (ァ..ヺ, ・, ー, ヽヾ), half-width katakana (･..ﾝ, with ﾞ or ﾟ only
# after a letter that composes with it), and half- or full-width spaces. Every string this admits becomes, after
# ``normalize_kana``, a フリガナ ``is_kana`` accepts (tests/cases/test_text.py proves it).
_KANA_FULL = r"\u3041-\u3096\u309d\u309e\u30a1-\u30fe"
_KANA_HALF = r"\uff65-\uff9d"


def _composes_with(mark: str) -> str:
    """The half-width letters ``mark`` (ﾞ or ﾟ) voices into one full-width letter, as ranges (``\\uff76-\\uff84``)."""
    codes = [code for code in range(0xFF65, 0xFF9E) if is_kana(chr(code) + mark)]
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][-1] + 1:
            runs[-1].append(code)
        else:
            runs.append([code])
    return "".join(rf"\u{run[0]:04x}" + (rf"-\u{run[-1]:04x}" if len(run) > 1 else "") for run in runs)


_KANA_TOKEN = (
    rf"(?:[{_KANA_FULL}{_KANA_HALF}]|[{_composes_with(chr(0xFF9E))}]\uff9e|[{_composes_with(chr(0xFF9F))}]\uff9f)"
)
_KANA_SPACE = r" \u3000"
KANA_MAX_LENGTH = 100
KANA_PATTERN = f"^[{_KANA_SPACE}]*{_KANA_TOKEN}(?:{_KANA_TOKEN}|[{_KANA_SPACE}])*$"

# A telephone number: digits, ``+``, parentheses, hyphens and spaces.
PHONE_PATTERN = r"^[0-9+()\- ]{0,32}$"


# --- the same normalisation inside the database (searching text that has no stored normalised copy) -------------

# Hiragana and the katakana each becomes (to_katakana above), for PostgreSQL's translate().
_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ゝゞ"
_KATAKANA = to_katakana(_HIRAGANA)
SQLITE_FUNCTION = "tsunagu_normalize"


class Normalized(Func):
    """``normalize(expression)`` computed by the database: NFKC, katakana, no white space, lower case.

    PostgreSQL composes it from built-ins (``normalize(…, NFKC)`` needs a UTF-8 database); SQLite calls
    ``normalize`` itself, registered on every connection (``register_sqlite_function``)."""

    function = SQLITE_FUNCTION
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        template = "lower(regexp_replace(translate(normalize({}, NFKC), %s, %s), %s, '', 'g'))"
        return template.format(sql), [*params, _HIRAGANA, _KATAKANA, r"\s+"]


def _sqlite_normalize(value: str | None) -> str | None:
    return None if value is None else normalize(value)


def register_sqlite_function(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: gives SQLite connections the function ``Normalized`` calls."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, _sqlite_normalize, deterministic=True)
