"""Chinese full-text search on PostgreSQL: rjieba segments the text, PostgreSQL's 'simple' configuration
indexes the words (to_tsvector('simple', segmented) under a GIN index). Nothing here knows about notices,
so another domain (the knowledge base) can share it as it is."""

from __future__ import annotations

import re
from functools import cache

_WORD = re.compile(r"\w", re.UNICODE)
MAX_QUERY_WORDS = 20


@cache
def _jieba():  # type: ignore[no-untyped-def]
    import rjieba  # loads its dictionary once, on first use

    return rjieba


def segment(text: str) -> str:
    """The words of ``text`` for indexing: the search-engine cut (a long word also yields its parts),
    lower-cased, joined by spaces, punctuation dropped."""
    words = _jieba().cut_for_search(text or "")
    return " ".join(w.lower() for w in words if _WORD.search(w))


def query_words(query: str) -> list[str]:
    """The words of a query (the precise cut): each must appear in a match."""
    words = [w.lower() for w in _jieba().cut((query or "")[:200]) if _WORD.search(w)]
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


def tsquery_text(query: str) -> str:
    """Text for ``plainto_tsquery('simple', …)``: the segmented words (ANDed by PostgreSQL)."""
    return " ".join(query_words(query))
