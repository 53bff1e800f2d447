"""Counts in words: "1 photo", "2 photos", "1 identity", "3 identities"."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`count` and the word in its number: counted(1, "photo") is "1 photo", counted(2, "identity",
    "identities") is "2 identities" (the plural defaults to the singular with an s)."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
