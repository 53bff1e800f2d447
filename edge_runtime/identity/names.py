"""Identity names: what a gallery accepts as a name, and the one name the runtime keeps for itself.

A name is stored exactly as given, in Unicode NFC (so "José" typed on Linux and "José" from a
macOS folder name are one identity). Refused, with a message that says why: an empty or blank
name, leading or trailing spaces (never stripped silently: " ann" and "ann" would look alike),
control characters (tabs, newlines), bytes that are not valid UTF-8 (a folder name in another
encoding), and "unknown" in any case, which the runtime says for faces it does not know.
"""

from __future__ import annotations

import os
import unicodedata

from edge_runtime.core.errors import SiameseEdgeError

UNKNOWN = "unknown"
RESERVED = frozenset({UNKNOWN})


class InvalidName(SiameseEdgeError):
    """A name a gallery cannot store."""


# Bidirectional embeddings, overrides and isolates: they reorder how a log line or a label reads.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """`text` safe to print or draw: undecodable bytes (kept by Python as surrogates) shown as \\xNN."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = os.fsencode(text) if os.name != "nt" else text.encode("utf-8", "surrogatepass")
    except UnicodeEncodeError:  # a surrogate no undecodable byte gives (a name read from a crafted gallery)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _visible(name: str) -> str:
    """`name` without its invisible format characters (zero-width spaces and joiners)."""
    return "".join(c for c in name if unicodedata.category(c) != "Cf")


def check_name(name: str) -> str:
    """`name` as a gallery stores it (NFC), or InvalidName saying what is wrong with it."""
    if name.isascii() and name.isprintable() and name == name.strip() and name:  # the common case, quickly
        if name.casefold() in RESERVED:
            raise InvalidName(
                f"{name!r} is reserved: the runtime says {UNKNOWN!r} for anyone not enrolled; choose another"
            )
        return name
    if not name.strip():
        raise InvalidName("an identity needs a name that is not empty or only spaces")
    if name != name.strip():
        raise InvalidName(f"name {name!r} starts or ends with a space; names are kept as given, so remove it")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise InvalidName(f"name {name!r} holds a control character (tab, newline); remove it")
    if any(c in BIDI_CONTROLS for c in name):
        raise InvalidName(f"name {name!r} holds a character that reorders the text around it; remove it")
    shown = printable(name)  # after the control characters, which it would print as they are
    if shown != name:
        raise InvalidName(f"name '{shown}' is not valid UTF-8 text; rename it (its folder, its file) in UTF-8")
    name = unicodedata.normalize("NFC", name)
    if _visible(name).casefold() in RESERVED:
        raise InvalidName(f"{name!r} is reserved: the runtime says {UNKNOWN!r} for anyone not enrolled; choose another")
    return name
