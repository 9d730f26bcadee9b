"""Adapters own their agent: no module outside sesh_mesh/agents/ branches on an agent's name.

Outside `sesh_mesh.agents` code asks the adapter (`get_adapter(kind).quit_command`,
`.resumes_from_file`, `.headless_argv(...)`, …) and never compares a value with "claude",
"codex" or "pi", nor lists those names again: `sesh_mesh.agent_names` is their one list, and
`check_agent_name` raises the one unknown-agent error. The checker reads the source (ast), so a
name in a docstring, a message or a single dict key is not a finding.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sesh_mesh.agent_names import AGENT_NAMES

PACKAGE = Path(__file__).resolve().parents[2] / "sesh_mesh"

EXEMPT = (PACKAGE / "agents", PACKAGE / "agent_names.py")
"""The adapters themselves, and the one list of names."""

NAMES = frozenset(AGENT_NAMES)

UNKNOWN_AGENT = "unknown agent"
"""How the one unknown-agent error starts (`sesh_mesh.errors.unknown_agent`)."""

UNKNOWN_AGENT_HOME = PACKAGE / "errors.py"


def _agent_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES:
        return node.value
    return None


def _names_in(node: ast.AST) -> list[str]:
    """Agent names among the elements of a tuple/list/set literal (or a dict's keys)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        elements: list[ast.expr | None] = list(node.elts)
    elif isinstance(node, ast.Dict):
        elements = list(node.keys)
    else:
        return []
    return [name for element in elements if element is not None and (name := _agent_name(element))]


def _pattern_names(pattern: ast.pattern) -> list[str]:
    if isinstance(pattern, ast.MatchValue):
        name = _agent_name(pattern.value)
        return [name] if name else []
    if isinstance(pattern, ast.MatchOr):
        return [name for alternative in pattern.patterns for name in _pattern_names(alternative)]
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        return _pattern_names(pattern.pattern)
    return []


def _starts_unknown_agent(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(UNKNOWN_AGENT)


def agent_branches(source: str, *, may_raise_unknown_agent: bool = False) -> list[tuple[int, str]]:
    """(line, what) for every comparison with an agent name, every case on one, every list (or
    per-agent table) of two or more names, and every unknown-agent message of its own."""
    found: list[tuple[int, str]] = []
    compared: set[int] = set()
    """Nodes already looked at as part of their parent: the tuple right of an `in`, the pieces of
    an f-string (ast.walk visits parents first)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for left, op, right in zip(sides[:-1], node.ops, sides[1:], strict=True):
                named = [n for n in (_agent_name(left), _agent_name(right)) if n]
                if isinstance(op, ast.In | ast.NotIn):
                    named += _names_in(right)
                    compared.add(id(right))
                if named:
                    found.append((node.lineno, f"compares with {', '.join(sorted(set(named)))}"))
        elif isinstance(node, ast.match_case):
            named = _pattern_names(node.pattern)
            if named:
                found.append((node.pattern.lineno, f"matches case {', '.join(named)}"))
        elif isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict) and id(node) not in compared:
            named = _names_in(node)
            if len(set(named)) >= 2:
                found.append((node.lineno, f"lists agents again ({', '.join(named)})"))
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in compared:
            if isinstance(node, ast.JoinedStr):
                compared.update(id(part) for part in node.values)
            if not may_raise_unknown_agent and _starts_unknown_agent(node):
                found.append((node.lineno, "words its own unknown-agent error"))
    return sorted(found)


def _modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path == exempt or exempt in path.parents for exempt in EXEMPT)
    ]


def test_no_module_outside_the_adapters_branches_on_an_agent_name() -> None:
    findings = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in _modules()
        for line, what in agent_branches(path.read_text(), may_raise_unknown_agent=path == UNKNOWN_AGENT_HOME)
    ]
    assert not findings, "ask the adapter instead (sesh_mesh/agents/base.py):\n" + "\n".join(findings)


def test_the_scan_covers_the_modules_that_once_branched() -> None:
    scanned = {str(path.relative_to(PACKAGE)) for path in _modules()}
    assert {"daemon/control.py", "daemon/headless.py", "daemon/watcher.py", "services/placement.py",
            "services/namer.py", "config.py", "store/record.py", "cli/daemon_cmds.py"} <= scanned
    assert not any(name.startswith("agents/") for name in scanned)


PLANTED = '''
def launch(agent, kind, record, models):
    if agent == "claude":
        pass
    ready = kind != "pi"
    if record["agent"] in ("codex", "pi"):
        pass
    match agent:
        case "pi":
            pass
        case "claude" | "codex":
            pass
    AGENTS = ("claude", "codex", "pi")
    for name in ["claude", "codex"]:
        pass
    QUIT = {"claude": "/exit", "codex": "/quit"}
    kinds: Literal["claude", "codex", "pi"]
    raise UsageError(f"unknown agent {agent!r}", "use claude, codex or pi")
'''


def test_the_checker_finds_each_planted_branch() -> None:
    assert agent_branches(PLANTED) == [
        (3, "compares with claude"),
        (5, "compares with pi"),
        (6, "compares with codex, pi"),
        (9, "matches case pi"),
        (11, "matches case claude, codex"),
        (13, "lists agents again (claude, codex, pi)"),
        (14, "lists agents again (claude, codex)"),
        (16, "lists agents again (claude, codex)"),
        (17, "lists agents again (claude, codex, pi)"),
        (18, "words its own unknown-agent error"),
    ]


UNRELATED = '''
"""Runs claude, codex or pi in tmux; `pi` hides its --session argument."""
HELP = {"claude": "Claude Code", "model": "the model"}
def f(agent, model, kind, env):
    if model.startswith("claude-") or "claude-" in model or kind == "lost" or agent == other:
        pass
    if name == "pie" or env.get("PI_CODING_AGENT_DIR") == "":
        pass
    binary = shutil.which(agent) or "pi"
    raise ConfigError(f"{path}: unknown agent {name!r} in [agents]", "use claude, codex or pi")
    log.info("claude %s", "codex")
'''


def test_the_checker_leaves_unrelated_strings_alone() -> None:
    assert agent_branches(UNRELATED) == []
