"""Which lines of the text read in a photo a query's words match (pure functions, no Qt).

The rule is the search's own (core.words.keywords): a query word matches a line that holds
it as a whole word, or a word or code of the line that begins with it ("re16" matches
"RE1634"); a word typed as one run of letters and digits ("re16") needs all of its words
in the line when it does not begin one. A CJK run matches a line holding it (a run of
three or more characters: any of its character pairs, as search does). Dates and the
words every description carries ("a", "the", "photo") match nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.words import keywords


def query_runs(query: str) -> list[str]:
    """The query's words that can match text: runs of letters and digits (lower case,
    stop words left out) and CJK runs, dates taken out."""
    text = keywords.parse_query(query).text if query.strip() else ""
    runs = []
    for run in keywords.query_words(text):
        if keywords.is_cjk_run(run):
            runs.append(run)
        elif run.lower() not in keywords.STOPWORDS:
            runs.append(run.lower())
    return list(dict.fromkeys(runs))


def line_matches(line: str, runs: Sequence[str]) -> bool:
    """Whether any of ``runs`` (from :func:`query_runs`) matches the line."""
    words = keywords.text_index(line).split()
    joined = "".join(line.split())
    for run in runs:
        if keywords.is_cjk_run(run):
            if _cjk_in(run, joined):
                return True
            continue
        if any(word.startswith(run) for word in words):
            return True
        parts = [t for t in keywords.tokens(run) if t not in keywords.STOPWORDS]
        if parts and all(part in words for part in parts):
            return True
    return False


def matching_lines(lines: Sequence[dict[str, Any]], query: str) -> list[int]:
    """The indexes of the lines (``{"text": ...}`` dicts) that the query's words match."""
    runs = query_runs(query)
    if not runs:
        return []
    return [i for i, line in enumerate(lines) if line_matches(str(line.get("text", "")), runs)]


def _cjk_in(run: str, text: str) -> bool:
    return any(pair in text for pair in keywords.cjk_pairs(run))
