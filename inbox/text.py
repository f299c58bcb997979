"""Text that every database can hold: PostgreSQL refuses NUL in text, and neither backend
can encode a lone surrogate (what a broken UTF-16 pair or a surrogate-escaped byte
leaves). ``clean`` drops NUL and replaces lone surrogates with U+FFFD; the model's text
columns apply it to every value they write (``inbox.models``)."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replace(match: re.Match) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def clean(value: str) -> str:
    return _UNSTORABLE.sub(_replace, value) if _UNSTORABLE.search(value) else value
