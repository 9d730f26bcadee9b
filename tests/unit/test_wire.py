"""wire.decode's depth limit: exactly MAX_DEPTH levels pass, one more is refused, wherever the
deep branch sits among shallow siblings, and brackets inside strings count for nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesh_mesh import wire
from sesh_mesh.wire import MAX_DEPTH, TooDeep


def nested(depth: int) -> Any:
    """`depth` levels of containers, alternating lists and objects."""
    value: Any = 0
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def wide(deep_branch: Any, siblings: int = 300) -> dict[str, Any]:
    """A batch-like frame: many shallow records (more brackets than MAX_DEPTH), one deep branch."""
    records: list[Any] = [{"uuid": str(n), "tags": ["a"], "tmux": {"pane": "%1"}} for n in range(siblings)]
    records.insert(siblings // 2, deep_branch)
    return {"type": "batch", "records": records}


@pytest.mark.parametrize("depth", [1, 2, MAX_DEPTH])
def test_up_to_max_depth_decodes(depth: int) -> None:
    text = json.dumps(nested(depth))
    assert wire.decode(text) == nested(depth)
    assert wire.decode(text.encode()) == nested(depth)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, MAX_DEPTH * 3])
def test_one_level_more_is_refused(depth: int) -> None:
    with pytest.raises(TooDeep, match=f"nested deeper than {MAX_DEPTH} levels"):
        wire.decode(json.dumps(nested(depth)))


def test_a_deep_branch_among_many_shallow_siblings() -> None:
    # The frame itself and its records list are two levels: the branch may have MAX_DEPTH - 2.
    fits = json.dumps(wide(nested(MAX_DEPTH - 2)))
    assert fits.count("[") + fits.count("{") > MAX_DEPTH  # the full check runs, not the shortcut
    assert wire.decode(fits)["records"][150] == nested(MAX_DEPTH - 2)
    with pytest.raises(TooDeep):
        wire.decode(json.dumps(wide(nested(MAX_DEPTH - 1))))


def test_brackets_inside_strings_are_text() -> None:
    text = json.dumps({"name": "[" * 500 + "{" * 500, "tags": ["]" * 200]})
    assert wire.decode(text)["name"].startswith("[[[")


def test_far_too_deep_is_too_deep_not_a_recursion_error() -> None:
    with pytest.raises(TooDeep):
        wire.decode("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("scalar", ["1", '"x"', "null", "[]", "{}"])
def test_scalars_and_empty_containers(scalar: str) -> None:
    assert wire.decode(scalar) == json.loads(scalar)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_the_compact_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    assert wire.dumps_compact_ascii(value) == json.dumps(value, separators=(",", ":"))


def test_the_compact_encoder_refuses_what_json_cannot_encode() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        wire.dumps_compact_ascii({"when": object()})
