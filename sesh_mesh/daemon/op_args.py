"""Typed op arguments: each op declares a dataclass; requests are checked against it before the
handler runs, and the same declaration yields the op's JSON Schema (docs/architecture.md, "Typed
arguments").

Why dataclasses and this small checker rather than pydantic or msgspec: op arguments are flat
JSON objects of a handful of scalar, list and object fields, which a 200-line checker covers, and
it adds no dependency. Measured (bench/op_args_bench.py, this project's 2-core box): importing
this module costs 12 ms (most of it the sesh_mesh package itself) against 77 ms for pydantic's
BaseModel; a check of `send`'s arguments costs 3.3 µs against pydantic's 1.0 µs, which is
nothing beside a socket round trip (~1 ms). The CLI and `sesh pane` never import either.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from sesh_mesh.errors import UsageError


@dataclasses.dataclass(frozen=True)
class NoArgs:
    """An op that takes no arguments."""


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    hint: Any
    required: bool
    default: Any


@functools.cache
def _fields(model: type) -> tuple[_Field, ...]:
    hints = get_type_hints(model)
    out = []
    for field in dataclasses.fields(model):
        has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        default = field.default if field.default is not dataclasses.MISSING else None
        out.append(_Field(field.name, hints[field.name], not has_default, default))
    return tuple(out)


@functools.cache
def field_names(model: type) -> frozenset[str]:
    return frozenset(f.name for f in _fields(model))


def check(op: str, model: type, args: dict[str, Any]) -> dict[str, Any]:
    """`args` unchanged when it fits `model`; else a usage error naming the field.

    Only the keys the caller gave are passed on (a handler's own defaults stay its own).
    `None` is accepted for every optional field: the CLI sends absent flags as null.
    """
    known = field_names(model)
    for key in args:
        if key not in known:
            shown = ", ".join(sorted(known)) or "none"
            raise UsageError(f"{op}: unknown argument {key!r}", f"the arguments of {op} are: {shown}")
    for field in _fields(model):
        if field.name not in args:
            if field.required:
                hint = _describe(field.hint)
                raise UsageError(f"{op}: missing argument {field.name!r}", f"pass {field.name} ({hint})")
            continue
        value = args[field.name]
        if value is None and not field.required:
            continue
        if not _fits(value, field.hint):
            raise UsageError(
                f"{op}: argument {field.name!r} must be {_describe(field.hint)}, not {_json_type(value)}",
                f"pass {field.name} as {_describe(field.hint)}",
            )
    validate = getattr(model, "validate", None)
    if callable(validate):
        validate(args)
    return args


def _fits(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, arm) for arm in get_args(hint))
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict or hint is dict:
        arms = get_args(hint)
        value_hint = arms[1] if len(arms) == 2 else Any
        return isinstance(value, dict) and all(isinstance(k, str) and _fits(v, value_hint) for k, v in value.items())
    raise TypeError(f"op argument type {hint!r} is not supported")


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in get_args(hint) if arm is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in get_args(hint))
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return f"a list of {_describe(item)}"
    if origin is dict or hint is dict:
        return "an object"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", Any: "any value"}
    return names.get(hint, repr(hint))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def schema(model: type) -> dict[str, Any]:
    """The JSON Schema of an op's arguments (the HTTP and MCP doors are generated from it)."""
    properties = {}
    required = []
    for field in _fields(model):
        prop = _schema_of(field.hint)
        if not field.required:
            prop = {"anyOf": [prop, {"type": "null"}]} if "anyOf" not in prop else prop
            if field.default is not None:
                prop["default"] = field.default
        else:
            required.append(field.name)
        doc = _field_docs(model).get(field.name)
        if doc:
            prop["description"] = doc
        properties[field.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _schema_of(hint: Any) -> dict[str, Any]:
    origin = get_origin(hint)
    if hint is Any:
        return {}
    if origin in (Union, types.UnionType):
        arms = [_schema_of(arm) for arm in get_args(hint)]
        return arms[0] if len(arms) == 1 else {"anyOf": arms}
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if hint is type(None):
        return {"type": "null"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if hint in simple:
        return {"type": simple[hint]}
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return {"type": "array", "items": _schema_of(item)}
    if origin is dict or hint is dict:
        return {"type": "object"}
    raise TypeError(f"op argument type {hint!r} is not supported")


@functools.cache
def _field_docs(model: type) -> dict[str, str]:
    """Field descriptions from `Annotated`-free docstrings: a string literal right after a field."""
    import ast
    import inspect
    import textwrap

    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(textwrap.dedent(source))
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for first, second in itertools.pairwise(body):
        if (
            isinstance(first, ast.AnnAssign)
            and isinstance(first.target, ast.Name)
            and isinstance(second, ast.Expr)
            and isinstance(second.value, ast.Constant)
            and isinstance(second.value.value, str)
        ):
            docs[first.target.id] = " ".join(second.value.value.split())
    return docs
