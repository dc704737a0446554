"""Identifiers and comments for generated source made from user text.

Names from users (program names, hint names) never reach generated code as
they are: each becomes an ASCII identifier made of letters, digits and
underscores, bounded in length, with a short hash of the original text when
anything had to change, so two different names stay different. The original
text appears only in comments, through `ascii` (repr with every character outside
printable ASCII escaped, line breaks included).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Mapping

MAX_LENGTH = 40  # characters kept from a user's name before the hash
COMMENT_LENGTH = 80  # characters of a user's name shown in a comment
_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def identifier(text: str) -> str:
    """`text` as letters, digits and underscores; a hash suffix marks any change."""
    safe = _UNSAFE.sub("_", text)[:MAX_LENGTH]
    if safe == text and safe:
        return safe
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}_{digest}"


def identifiers(names: Mapping[Hashable, str], prefix: str) -> dict[Hashable, str]:
    """A distinct identifier `prefix + identifier(name)` for each key of `names`."""
    out: dict[Hashable, str] = {}
    taken: set[str] = set()
    for key, name in names.items():
        ident = base = prefix + identifier(name)
        k = 1
        while ident in taken:
            ident, k = f"{base}_{k}", k + 1
        out[key] = ident
        taken.add(ident)
    return out


def comment(text: str) -> str:
    """`text` shown safely inside a `#` comment: its ASCII repr, shortened."""
    shown = text if len(text) <= COMMENT_LENGTH else text[:COMMENT_LENGTH] + "..."
    return ascii(shown)
