"""fzf-style fuzzy matching: does a query match a text, how well, and at which characters. Pure.

Scoring follows fzf's scheme: every matched character earns `SCORE_MATCH`; a character at a word
boundary (after a space, a delimiter such as `/`, or any non-word character, or a camelCase /
letter→digit step) earns a bonus, doubled for the query's first character; a run of consecutive
matches keeps the bonus of the run's first character; gaps between matches cost a start penalty
plus a smaller penalty per extra skipped character. Smart case: the match is case-sensitive only
when the query has an upper-case letter. Whitespace splits the query into terms that must all
match (in any order), as in fzf's extended mode.

Speed matters more than optimal alignment (the TUI re-filters 10,000 rows per keystroke): the
subsequence test runs on `str.find`; a term found as a contiguous run at a word boundary is
taken as is; otherwise the first occurrence of its first character and a few later ones on word
boundaries are tried (fzf v1 plus boundary-aware restarts), not fzf v2's O(n·m) programme.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

SCORE_MATCH = 16
SCORE_GAP_START = -3
SCORE_GAP_EXTENSION = -1
BONUS_BOUNDARY = SCORE_MATCH // 2
"""A match right after a non-word character ('-', '.', '_')."""
BONUS_NON_WORD = SCORE_MATCH // 2
BONUS_CAMEL_123 = BONUS_BOUNDARY + SCORE_GAP_EXTENSION
BONUS_CONSECUTIVE = -(SCORE_GAP_START + SCORE_GAP_EXTENSION)
BONUS_FIRST_CHAR_MULTIPLIER = 2
BONUS_BOUNDARY_WHITE = BONUS_BOUNDARY + 2
"""A match at the start of the text or after a space: the strongest boundary."""
BONUS_BOUNDARY_DELIMITER = BONUS_BOUNDARY + 1
"""A match after a path or list delimiter, so `src` prefers `/src/` over `resources`."""

MAX_STARTS = 8
"""How many occurrences of a term's first character are tried as the start of the match; beyond
this the gain in ranking is negligible and the cost is linear in the row count."""

DELIMITERS = frozenset("/,:;|")

_WHITE, _NON_WORD, _DELIMITER, _LOWER, _UPPER, _LETTER, _NUMBER = range(7)


class Match(NamedTuple):
    """A successful match: the score (higher is better) and the matched character offsets.

    A named tuple, not a frozen dataclass: the TUI makes one per row per keystroke, and a
    frozen dataclass costs four times as much to build."""

    score: int
    positions: tuple[int, ...]
    run: bool = False
    """Found by `match_term`'s fast path: the term as a contiguous run at the first word-boundary
    occurrence. `extend_run` relies on it to score a longer term without searching again."""


def _char_class(char: str) -> int:
    if char.isspace():
        return _WHITE
    if char in DELIMITERS:
        return _DELIMITER
    if char.isdigit():
        return _NUMBER
    if char.islower():
        return _LOWER
    if char.isupper():
        return _UPPER
    if char.isalpha():
        return _LETTER
    return _NON_WORD


def _bonus(prev_class: int, char_class: int) -> int:
    if char_class > _DELIMITER:  # a word character
        if prev_class == _WHITE:
            return BONUS_BOUNDARY_WHITE
        if prev_class == _DELIMITER:
            return BONUS_BOUNDARY_DELIMITER
        if prev_class == _NON_WORD:
            return BONUS_BOUNDARY
    if (prev_class == _LOWER and char_class == _UPPER) or (prev_class != _NUMBER and char_class == _NUMBER):
        return BONUS_CAMEL_123
    if char_class in (_NON_WORD, _DELIMITER):
        return BONUS_NON_WORD
    if char_class == _WHITE:
        return BONUS_BOUNDARY_WHITE
    return 0


_CLASS_CHARS = "0123456"
_ASCII_CLASSES = {code: _CLASS_CHARS[_char_class(chr(code))] for code in range(128)}
_PAIR_BONUS = {
    (_CLASS_CHARS[prev], _CLASS_CHARS[cur]): _bonus(prev, cur) for prev in range(7) for cur in range(7)
}
_START = _CLASS_CHARS[_WHITE]
"""The class before a text's first character: a match at the start is a white boundary."""


def classes_of(text: str) -> str:
    """One class digit per character of `text`. Callers that match one text many times (the
    TUI, per keystroke) compute it once; `str.translate` makes it cheap for ASCII."""
    if text.isascii():
        return text.translate(_ASCII_CLASSES)
    return "".join(_CLASS_CHARS[_char_class(char)] for char in text)


def bonus_at(text: str, index: int, classes: str | None = None) -> int:
    """The boundary bonus of the character at `index` (the text's start counts as after a space)."""
    kinds = classes if classes is not None else classes_of(text)
    return _PAIR_BONUS[(kinds[index - 1] if index > 0 else _START, kinds[index])]


def score_positions(text: str, positions: Sequence[int], classes: str | None = None) -> int:
    """fzf's score of matching the query at `positions` (ascending offsets) of `text`."""
    kinds = classes if classes is not None else classes_of(text)
    pair_bonus = _PAIR_BONUS
    score = 0
    first_bonus = 0
    previous = -2
    for order, index in enumerate(positions):
        bonus = pair_bonus[(kinds[index - 1] if index > 0 else _START, kinds[index])]
        if order and index == previous + 1:
            if bonus >= BONUS_BOUNDARY and bonus > first_bonus:
                first_bonus = bonus
            bonus = max(bonus, first_bonus, BONUS_CONSECUTIVE)
        else:
            if order:
                gap = index - previous - 1
                score += SCORE_GAP_START + SCORE_GAP_EXTENSION * (gap - 1)
            first_bonus = bonus
        score += SCORE_MATCH + (bonus * BONUS_FIRST_CHAR_MULTIPLIER if order == 0 else bonus)
        previous = index
    return score


_RUN_SCORES: dict[str, int] = {}
_RUN_MATCHES: dict[tuple[str, int], Match] = {}
RUN_MEMO_MAX = 4096


def _run_score(shape: str) -> int:
    """`score_positions` of a contiguous run whose classes (after the class of the character
    before it) are `shape`: the score depends on nothing else, and the TUI meets the same few
    shapes across 10,000 rows per keystroke, so each is scored once (a bounded memo)."""
    score = _RUN_SCORES.get(shape)
    if score is None:
        if len(_RUN_SCORES) >= RUN_MEMO_MAX:
            _RUN_SCORES.clear()
        # The shape as its own classes, matched from offset 1: offset 0 stands for what precedes.
        score = _RUN_SCORES[shape] = score_positions(shape, range(1, len(shape)), shape)
    return score


_SINGLE_MATCHES: dict[int, Match] = {}


def _single_match(at: int, bonus: int) -> Match:
    """A one-character match, shared by every row that has it at the same offset with the same
    bonus (the first key of a filter scores all 10,000 rows)."""
    key = at * 64 + bonus  # bonuses are below 64
    found = _SINGLE_MATCHES.get(key)
    if found is None:
        if len(_SINGLE_MATCHES) >= RUN_MEMO_MAX:
            _SINGLE_MATCHES.clear()
        found = _SINGLE_MATCHES[key] = Match(SCORE_MATCH + bonus * BONUS_FIRST_CHAR_MULTIPLIER, (at,))
    return found


def run_match(kinds: str, run: int, length: int) -> Match:
    """The match of a contiguous run of `length` characters at offset `run` found by the fast
    path, shared by every row with the same shape at the same offset (a bounded memo): no
    positions tuple or Match is built per row per keystroke."""
    key = ((kinds[run - 1] if run > 0 else _START) + kinds[run:run + length], run)
    found = _RUN_MATCHES.get(key)
    if found is None:
        if len(_RUN_MATCHES) >= RUN_MEMO_MAX:
            _RUN_MATCHES.clear()
        found = _RUN_MATCHES[key] = Match(_run_score(key[0]), tuple(range(run, run + length)), True)
    return found


_CHAINS: dict[str, re.Pattern[str]] = {}
CHAINS_MAX = 256


def _chain(term: str) -> re.Pattern[str]:
    """A pattern matching `term` as a subsequence from where it is applied, each character at
    its first occurrence after the previous one (fzf v1's forward scan): `t[^e]*e[^r]*r…`.
    Negated classes leave nothing to backtrack, so one C-level call replaces a Python loop
    over the term (and fails as fast when a character is missing)."""
    pattern = _CHAINS.get(term)
    if pattern is None:
        if len(_CHAINS) >= CHAINS_MAX:
            _CHAINS.clear()
        source = re.escape(term[0]) + "".join(f"[^{re.escape(char)}]*{re.escape(char)}" for char in term[1:])
        pattern = _CHAINS[term] = re.compile(source, re.DOTALL)
    return pattern


def _score_by_runs(kinds: str, positions: list[int]) -> int:
    """`score_positions`, summed run by run from the run memo: a run's share of the score is
    its memoised score, less its first character's bonus once when it is not the query's first
    run (only that character earns the doubled bonus), and each gap before a run costs as usual."""
    score = 0
    count = len(positions)
    begin = 0
    while begin < count:
        start = end = positions[begin]
        after = begin + 1
        while after < count and positions[after] == end + 1:
            end += 1
            after += 1
        before = kinds[start - 1] if start > 0 else _START
        run = _run_score(before + kinds[start:end + 1])
        if begin:
            run -= _PAIR_BONUS[(before, kinds[start])]
            run += SCORE_GAP_START + SCORE_GAP_EXTENSION * (start - positions[begin - 1] - 2)
        score += run
        begin = after
    return score


def _greedy(haystack: str, term: str, start: int) -> list[int] | None:
    """Positions of `term` in `haystack` taking each character at its first occurrence from
    `start` (whose character must be term[0]), then pulled right-to-left to the tightest window."""
    found = _chain(term).match(haystack, start)
    if found is None:
        return None
    # Backward pass (fzf v1): from the last match, take each earlier character at its last
    # occurrence before the next one; this shortens gaps such as "ab" in "a_xab". Each lands at
    # or after the forward scan's position for it, so `start` bounds every search.
    positions = [0] * len(term)
    at = positions[-1] = found.end() - 1
    for order in range(len(term) - 2, -1, -1):
        at = positions[order] = haystack.rfind(term[order], start, at)
    return positions


def match_term(text: str, haystack: str, term: str, classes: str | None = None) -> Match | None:
    """Match one whitespace-free `term` against `text`; `haystack` is `text` case-folded as the
    term needs (the caller folds once per text, not once per term)."""
    start = haystack.find(term[0])
    if start < 0:
        return None
    kinds = classes if classes is not None else classes_of(text)
    if len(term) == 1:
        # One character: the best-placed of its first occurrences, no alignment to search.
        best_at, best_bonus = start, -1
        for _ in range(MAX_STARTS):
            bonus = _PAIR_BONUS[(kinds[start - 1] if start > 0 else _START, kinds[start])]
            if bonus > best_bonus:
                best_at, best_bonus = start, bonus
                if bonus == BONUS_BOUNDARY_WHITE:
                    break  # nothing scores higher
            start = haystack.find(term, start + 1)
            if start < 0:
                break
        return _single_match(best_at, best_bonus)
    # Fast path: the term as a contiguous run starting at a word boundary is what fzf's optimal
    # alignment nearly always picks, and costs one C-level search instead of an alignment.
    run = haystack.find(term)
    tries = 0
    while run >= 0 and tries < MAX_STARTS:
        if _PAIR_BONUS[(kinds[run - 1] if run > 0 else _START, kinds[run])] >= BONUS_BOUNDARY:
            return run_match(kinds, run, len(term))
        run = haystack.find(term, run + 1)
        tries += 1
    # General path: align from the first occurrence of term[0] and from later occurrences that
    # sit on a word boundary; keep the best score.
    best: Match | None = None
    for _ in range(MAX_STARTS):
        positions = _greedy(haystack, term, start)
        if positions is None:
            break  # a later start cannot find what an earlier one could not
        score = _score_by_runs(kinds, positions)
        if best is None or score > best.score:
            best = Match(score, tuple(positions))
        start = _next_boundary(haystack, term[0], positions[0] + 1, kinds)
        if start < 0:
            break
    return best


def extend_run(haystack: str, term: str, previous: Match, classes: str) -> Match | None:
    """`match_term(text, haystack, term)` when `previous` is its result for a shorter prefix of
    `term` (two or more characters) and `term` still continues that run in place; None when
    that shortcut does not apply and the caller must call `match_term`.

    Exact, not a heuristic: every word-boundary occurrence of `term` is one of the prefix's,
    so the prefix's first one (where `previous` starts) is also the term's first, and it is
    reached in no more tries. Typing a name letter by letter takes this path on every key."""
    if not previous.run:
        return None
    start = previous.positions[0]
    if not haystack.startswith(term, start):
        return None
    return run_match(classes, start, len(term))


def _next_boundary(haystack: str, char: str, start: int, kinds: str) -> int:
    """The next occurrence of `char` from `start` that sits on a word boundary, or -1."""
    at = haystack.find(char, start)
    while at >= 0:
        if _PAIR_BONUS[(kinds[at - 1] if at > 0 else _START, kinds[at])] >= BONUS_BOUNDARY:
            return at
        at = haystack.find(char, at + 1)
    return -1


def fold(text: str) -> str:
    """`text` lower-cased with its length kept, so match offsets stay offsets into `text`."""
    folded = text.lower()
    if len(folded) != len(text):  # e.g. "İ" lower-cases to two code points
        folded = "".join(char.lower()[:1] for char in text)
    return folded


def smart_case(query: str) -> bool:
    """True when the query must match case-sensitively (it has an upper-case letter)."""
    return any(char.isupper() for char in query)


def terms_of(query: str) -> list[str]:
    return query.split()


def match(query: str, text: str) -> Match | None:
    """Match `query` against `text`: None when some term does not match; an empty query matches
    everything with score 0."""
    terms = terms_of(query)
    if not terms:
        return Match(0, ())
    if smart_case(query):
        return match_terms(text, text, terms)
    return match_terms(text, fold(text), [fold(term) for term in terms])


def match_terms(text: str, haystack: str, terms: Sequence[str], classes: str | None = None) -> Match | None:
    if len(terms) == 1:
        return match_term(text, haystack, terms[0], classes)
    kinds = classes if classes is not None else classes_of(text)
    found = []
    for term in terms:
        one = match_term(text, haystack, term, kinds)
        if one is None:
            return None
        found.append(one)
    return combine(found)


def combine(found: Sequence[Match]) -> Match:
    """Every term matched: the scores add up and the positions merge (fzf's extended mode)."""
    if len(found) == 1:
        return found[0]
    first, *rest = found
    positions = set(first.positions).union(*[one.positions for one in rest])
    return Match(first.score + sum(one.score for one in rest), tuple(sorted(positions)))


def rank(query: str, texts: Iterable[str]) -> list[tuple[int, Match]]:
    """Indices of the texts that match, best first: higher score, then shorter text, then the
    original order (fzf's default tiebreak)."""
    terms = terms_of(query)
    sensitive = smart_case(query)
    folded_terms = terms if sensitive else [fold(term) for term in terms]
    found: list[tuple[int, int, int, Match]] = []
    for index, text in enumerate(texts):
        result = match_terms(text, text if sensitive else fold(text), folded_terms) if terms else Match(0, ())
        if result is not None:
            found.append((-result.score, len(text), index, result))
    found.sort(key=lambda entry: entry[:3])
    return [(index, result) for _, _, index, result in found]
