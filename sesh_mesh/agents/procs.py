"""argv helpers for recognising agent processes and the ids on their command lines."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def basename(arg: str) -> str:
    return arg.rstrip("/").rsplit("/", 1)[-1]


def option_value(args: Sequence[str], names: Collection[str]) -> str | None:
    """The value of the last `--name value` / `--name=value` among args; None if absent or valueless."""
    found: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        name, eq, inline = arg.partition("=")
        if name not in names:
            continue
        if eq:
            found = inline
        elif index + 1 < len(args) and not args[index + 1].startswith("-"):
            found = args[index + 1]
        else:
            found = None
    return found or None


def has_flag(args: Sequence[str], names: Collection[str]) -> bool:
    return any(arg.partition("=")[0] in names for arg in args)


def positionals(args: Sequence[str], value_options: Collection[str]) -> list[str]:
    """Arguments that are not options or option values; everything after `--` is positional."""
    result: list[str] = []
    skip_next = False
    for index, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg == "--":
            result.extend(args[index + 1 :])
            break
        if arg.startswith("-") and arg != "-":
            skip_next = "=" not in arg and arg in value_options
            continue
        result.append(arg)
    return result
