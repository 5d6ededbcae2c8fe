"""Japanese text normalisation for search: フリガナ typed in hiragana or katakana, full or half width, match."""

import re
import unicodedata

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
