"""Isolated homes that point the real claude, codex and pi CLIs at the fake model server.

``make_agent_env`` writes every config file the three CLIs read under one
root directory and returns the environment to run them with, so a test never touches the real
``~/.claude``, ``~/.codex`` or ``~/.pi`` and no CLI shows an onboarding or trust dialog.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

AGENTS_DIR = Path(__file__).resolve().parent / "agents"
NODE_BIN = AGENTS_DIR / "node_modules" / ".bin"
INSTALL_STAMP = AGENTS_DIR / "node_modules" / ".sesh-install-stamp"
AGENT_NAMES = ("claude", "codex", "pi")

FAKE_ANTHROPIC_KEY = "sk-ant-api03-fake-sesh-test-key-0123456789abcdefghij"
FAKE_OPENAI_KEY = "fake-codex-key"
FAKE_PI_KEY = "fake-pi-key"
FAKE_MODEL = "fake-model"

TMUX_CONF = """\
# Written by tests/agent_env.py for the agent tests' private tmux servers.
# claude hints at focus-events and pi warns without extended-keys.
set -g focus-events on
set -g extended-keys on
# -q: tmux before 3.5 has no extended-keys-format, and a config error would leave the first
# pane in view-mode, swallowing the keys a test sends.
set -gq extended-keys-format csi-u
set -g history-limit 5000
# remain-on-exit stays off globally: a test that needs an exit banner sets it per pane.
"""


def agent_bin(name: str) -> Path:
    """Path of the pinned CLI ``name`` (claude, codex, pi) inside tests/agents/node_modules."""
    if name not in AGENT_NAMES:
        raise ValueError(f"unknown agent {name!r}; expected one of {AGENT_NAMES}")
    return NODE_BIN / name


def agents_installed() -> bool:
    """True when tests/agents/install.sh has completed (all three CLIs are on disk)."""
    return all(agent_bin(name).exists() for name in AGENT_NAMES)


def _pinned_version(package: str) -> str:
    """The installed version of ``package``, else the version tests/agents/package.json pins."""
    installed = AGENTS_DIR / "node_modules" / package / "package.json"
    if installed.exists():
        return str(json.loads(installed.read_text())["version"])
    return str(json.loads((AGENTS_DIR / "package.json").read_text())["dependencies"][package])


def _dir_spellings(dirs: Sequence[Path]) -> list[str]:
    # Trust is keyed by the cwd string the CLI sees; list the resolved form too in case the
    # test's tmp path runs through a symlink.
    spellings: list[str] = []
    for path in dirs:
        for spelling in (str(Path(path).absolute()), str(Path(path).resolve())):
            if spelling not in spellings:
                spellings.append(spelling)
    return spellings


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _toml_str(value: str) -> str:
    # A JSON string literal is a valid TOML basic string for the paths and URLs written here.
    return json.dumps(value)


def write_claude_config(config_dir: Path, trusted: Sequence[str]) -> None:
    """``$CLAUDE_CONFIG_DIR/.claude.json`` pre-empting onboarding, key approval and trust."""
    version = _pinned_version("@anthropic-ai/claude-code")
    _write_json(
        config_dir / ".claude.json",
        {
            "hasCompletedOnboarding": True,  # without it interactive claude exits with ENOTFOUND
            "theme": "dark",
            "lastOnboardingVersion": version,
            "lastReleaseNotesSeen": version,
            "customApiKeyResponses": {"approved": [FAKE_ANTHROPIC_KEY[-20:]], "rejected": []},
            "bypassPermissionsModeAccepted": True,
            "projects": {
                cwd: {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True, "allowedTools": []}
                for cwd in trusted
            },
        },
    )


def write_codex_config(codex_home: Path, llm_url: str, trusted: Sequence[str]) -> None:
    """``$CODEX_HOME/config.toml`` with the fake provider and no background daemon."""
    lines = [
        f"model = {_toml_str(FAKE_MODEL)}",
        'model_provider = "fake"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.fake]",
        'name = "fake"',
        f"base_url = {_toml_str(llm_url.rstrip('/') + '/v1')}",
        'wire_api = "responses"',
        'env_key = "FAKE_API_KEY"',
        "",
        "[features]",
        # The default daemon outlives the TUI and holds threads.
        "daemon_auto_start = false",
        "in_app_updates = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        "",
        "[tui]",
        "screen_reader_detection_done = true",
    ]
    for cwd in trusted:
        lines += ["", f"[projects.{_toml_str(cwd)}]", 'trust_level = "trusted"']
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def pi_models_json(llm_url: str) -> dict[str, Any]:
    """pi 0.73.1 ``models.json`` (schema: pi-coding-agent/docs/models.md)."""
    model = {
        "id": FAKE_MODEL,
        "name": FAKE_MODEL,
        "reasoning": False,
        "input": ["text"],
        "contextWindow": 128000,
        "maxTokens": 16384,
        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
    }
    base = llm_url.rstrip("/")
    return {
        "providers": {
            "fake": {
                "baseUrl": base + "/v1",
                "api": "openai-completions",
                "apiKey": FAKE_PI_KEY,
                "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
                "models": [model],
            },
            # The Anthropic SDK appends /v1/messages itself, hence no /v1 here.
            "fake-anthropic": {
                "baseUrl": base,
                "api": "anthropic-messages",
                "apiKey": FAKE_PI_KEY,
                "models": [model],
            },
        }
    }


def write_pi_config(agent_dir: Path, llm_url: str) -> None:
    """``$PI_CODING_AGENT_DIR/{models,settings}.json`` selecting the fake provider."""
    _write_json(agent_dir / "models.json", pi_models_json(llm_url))
    _write_json(
        agent_dir / "settings.json",
        {
            "defaultProvider": "fake",
            "defaultModel": FAKE_MODEL,
            "defaultThinkingLevel": "off",
            "enableInstallTelemetry": False,
            "quietStartup": True,
            "lastChangelogVersion": _pinned_version("@mariozechner/pi-coding-agent"),
        },
    )


def make_agent_env(root: Path, llm_url: str, trusted_dirs: Sequence[Path]) -> dict[str, str]:
    """Create ``root/home`` with the three CLIs' configs and return the env to run them with.

    ``llm_url`` is the fake server's base URL without a path. Every dir in ``trusted_dirs`` is
    pre-trusted for claude and codex. The env is complete (not merged with os.environ) apart
    from PATH's tail and the locale, so inherited agent variables cannot leak in.
    """
    home = Path(root).absolute() / "home"
    claude_dir = home / ".claude"
    codex_home = home / ".codex"
    pi_dir = home / ".pi" / "agent"
    for path in (claude_dir, codex_home, pi_dir):
        path.mkdir(parents=True, exist_ok=True)
    trusted = _dir_spellings(trusted_dirs)
    write_claude_config(claude_dir, trusted)
    write_codex_config(codex_home, llm_url, trusted)
    write_pi_config(pi_dir, llm_url)
    tmux_conf = home / "tmux.conf"
    tmux_conf.write_text(TMUX_CONF, encoding="utf-8")

    env = {
        "HOME": str(home),
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
        "TERM": "xterm-256color",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "LC_ALL": os.environ.get("LC_ALL", "C.UTF-8"),
        "USER": os.environ.get("USER", "root"),
        "SHELL": "/bin/bash",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        # claude
        "CLAUDE_CONFIG_DIR": str(claude_dir),
        "ANTHROPIC_BASE_URL": llm_url.rstrip("/"),
        "ANTHROPIC_API_KEY": FAKE_ANTHROPIC_KEY,
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # lets --dangerously-skip-permissions run as root
        "IS_SANDBOX": "1",
        # codex
        "CODEX_HOME": str(codex_home),
        "FAKE_API_KEY": FAKE_OPENAI_KEY,
        # pi
        "PI_CODING_AGENT_DIR": str(pi_dir),
        "PI_OFFLINE": "1",
        "PI_TELEMETRY": "0",
        "PI_SKIP_VERSION_CHECK": "1",
        "SESH_TEST_TMUX_CONF": str(tmux_conf),
    }
    return env
