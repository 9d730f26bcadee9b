"""The fzf-style scorer: ranking, boundary and consecutive bonuses, smart case, positions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sesh_mesh import fuzzy


def ranked(query: str, texts: list[str]) -> list[str]:
    return [texts[index] for index, _ in fuzzy.rank(query, texts)]


def test_subsequence_required() -> None:
    assert fuzzy.match("abc", "a-b-c") is not None
    assert fuzzy.match("abc", "acb") is None
    assert fuzzy.match("zz", "auth") is None


def test_empty_query_matches_everything_in_order() -> None:
    assert ranked("", ["b", "a"]) == ["b", "a"]
    assert fuzzy.match("  ", "x") == fuzzy.Match(0, ())


def test_consecutive_beats_scattered() -> None:
    assert ranked("auth", ["axuxtxh", "xauthx"]) == ["xauthx", "axuxtxh"]


def test_word_boundary_beats_middle_of_word() -> None:
    # "ref" at the start of a word (after '-') outranks "ref" inside "prefix".
    assert ranked("ref", ["prefixed", "auth-refactor"]) == ["auth-refactor", "prefixed"]


def test_start_of_text_beats_other_boundaries() -> None:
    assert ranked("doc", ["my-docs", "docs-site"]) == ["docs-site", "my-docs"]


def test_path_delimiter_bonus() -> None:
    found = fuzzy.match("src", "/home/me/resources/src/x")
    assert found is not None
    assert found.positions == (19, 20, 21)  # the "/src/" segment, not "re-s-ou-r-c-es"


def test_camel_case_boundary() -> None:
    camel, flat = fuzzy.match("fb", "fooBar"), fuzzy.match("fb", "foobar")
    assert camel is not None and flat is not None
    assert camel.score > flat.score


def test_bonus_constants_follow_fzf() -> None:
    assert fuzzy.bonus_at("a b", 2) == fuzzy.BONUS_BOUNDARY_WHITE
    assert fuzzy.bonus_at("a/b", 2) == fuzzy.BONUS_BOUNDARY_DELIMITER
    assert fuzzy.bonus_at("a-b", 2) == fuzzy.BONUS_BOUNDARY
    assert fuzzy.bonus_at("ab", 1) == 0
    assert fuzzy.bonus_at("a1", 1) == fuzzy.BONUS_CAMEL_123
    # First char: match + doubled boundary bonus; consecutive chars keep the run's first bonus.
    assert fuzzy.score_positions("ab", [0]) == fuzzy.SCORE_MATCH + 2 * fuzzy.BONUS_BOUNDARY_WHITE
    assert fuzzy.score_positions("ab", [0, 1]) == 2 * fuzzy.SCORE_MATCH + 3 * fuzzy.BONUS_BOUNDARY_WHITE
    gap = fuzzy.score_positions("a__b", [0, 3])
    assert gap == 2 * fuzzy.SCORE_MATCH + 2 * fuzzy.BONUS_BOUNDARY_WHITE + fuzzy.BONUS_BOUNDARY \
        + fuzzy.SCORE_GAP_START + fuzzy.SCORE_GAP_EXTENSION


def test_smart_case() -> None:
    assert fuzzy.match("auth", "AUTH") is not None  # all lower: insensitive
    assert fuzzy.match("Auth", "auth") is None  # an upper-case letter: sensitive
    assert fuzzy.match("Auth", "my Auth") is not None


def test_highlight_positions_are_the_tightest_window() -> None:
    found = fuzzy.match("ab", "a_xab")
    assert found is not None
    assert found.positions == (3, 4)


def test_terms_are_anded_in_any_order() -> None:
    texts = ["auth claude alpha", "auth codex beta", "docs claude alpha"]
    assert ranked("claude auth", texts) == ["auth claude alpha"]
    found = fuzzy.match("co au", "auth codex")
    assert found is not None and found.positions == (0, 1, 5, 6)


def test_ties_break_on_length_then_order() -> None:
    assert ranked("ab", ["ab-long", "ab", "ab-long2"]) == ["ab", "ab-long", "ab-long2"]


def test_folding_keeps_offsets() -> None:
    text = "İstanbul x"  # "İ".lower() is two code points
    found = fuzzy.match("x", text)
    assert found is not None and text[found.positions[0]] == "x"


_TEXT = st.text(alphabet=st.sampled_from(list("abAB1 -_/.:é")), min_size=1, max_size=24)


@settings(max_examples=500, deadline=None)
@given(text=_TEXT, data=st.data())
def test_a_contiguous_run_scores_as_its_positions_do(text: str, data: st.DataObject) -> None:
    """The memo of run matches (one per shape of classes and offset) gives what scoring the
    run's positions in the text itself gives, wherever the run starts and whatever precedes it."""
    start = data.draw(st.integers(0, len(text) - 1))
    length = data.draw(st.integers(1, len(text) - start))
    kinds = fuzzy.classes_of(text)
    fuzzy._RUN_MATCHES.clear()
    fuzzy._RUN_SCORES.clear()
    first = fuzzy.run_match(kinds, start, length)
    again = fuzzy.run_match(kinds, start, length)  # from the memo
    assert again is first
    assert first == fuzzy.Match(fuzzy.score_positions(text, range(start, start + length), kinds),
                                tuple(range(start, start + length)), True)


def test_the_run_memo_stays_bounded() -> None:
    for memo in (fuzzy._RUN_MATCHES, fuzzy._RUN_SCORES):
        memo.clear()
        seen = 0
        for n in range(fuzzy.RUN_MEMO_MAX + 10):  # each n a different shape: lower and upper case
            text = format(n, "013b").replace("0", "a").replace("1", "A")
            fuzzy.run_match(fuzzy.classes_of(text), 0, len(text))
            seen = max(seen, len(memo))
        assert seen == fuzzy.RUN_MEMO_MAX and 0 < len(memo) <= fuzzy.RUN_MEMO_MAX


def _reference_greedy(haystack: str, term: str, start: int) -> list[int] | None:
    """fzf v1's scan written out plainly: first occurrences forward, last occurrences back."""
    positions = [start]
    for char in term[1:]:
        at = haystack.find(char, positions[-1] + 1)
        if at < 0:
            return None
        positions.append(at)
    for order in range(len(term) - 2, -1, -1):
        positions[order] = haystack.rfind(term[order], positions[order], positions[order + 1])
    return positions


_SMALL = st.text(alphabet=st.sampled_from(list("abAB1 -_/.:é[]^\\")), min_size=1, max_size=30)


@settings(max_examples=800, deadline=None)
@given(text=_SMALL, term=st.text(alphabet=st.sampled_from(list("abA1-/[]^\\")), min_size=2, max_size=6))
def test_the_chain_scan_equals_the_plain_scan(text: str, term: str) -> None:
    """The regex forward scan plus the backward pass finds what the loop of str.find does,
    from every start that holds the term's first character (and None where it fails)."""
    for start in range(len(text)):
        if text[start] == term[0]:
            assert fuzzy._greedy(text, term, start) == _reference_greedy(text, term, start)


@settings(max_examples=800, deadline=None)
@given(text=_TEXT, prefix=st.text(alphabet=st.sampled_from(list("ab1-")), min_size=2, max_size=4),
       more=st.text(alphabet=st.sampled_from(list("ab1-")), min_size=1, max_size=3))
def test_extending_a_run_equals_matching_afresh(text: str, prefix: str, more: str) -> None:
    """What the TUI does while a name is typed letter by letter: whenever extend_run takes the
    shortcut, its answer is match_term's for the longer term."""
    haystack, kinds = fuzzy.fold(text), fuzzy.classes_of(text)
    before = fuzzy.match_term(text, haystack, prefix, kinds)
    term = prefix + more
    fresh = fuzzy.match_term(text, haystack, term, kinds)
    if before is None:
        assert fresh is None
        return
    extended = fuzzy.extend_run(haystack, term, before, kinds)
    if extended is not None:
        assert extended == fresh


@settings(max_examples=800, deadline=None)
@given(text=_SMALL, data=st.data())
def test_scoring_run_by_run_equals_scoring_each_position(text: str, data: st.DataObject) -> None:
    """The general path sums memoised runs; that must be score_positions' sum over characters."""
    positions = sorted(data.draw(st.sets(st.integers(0, len(text) - 1), min_size=1)))
    kinds = fuzzy.classes_of(text)
    assert fuzzy._score_by_runs(kinds, positions) == fuzzy.score_positions(text, positions, kinds)
