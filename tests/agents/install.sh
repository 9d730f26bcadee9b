#!/usr/bin/env bash
# Installs the pinned real agent CLIs (claude, codex, pi) into tests/agents/node_modules.
#
# Idempotent: `npm ci` runs only when node_modules is missing or the stamp file is older than
# package.json / package-lock.json, so the project's test command can call this every time.
# Works with the npm registry as the only network source: every binary the CLIs need ships
# inside a registry package. Fails loudly (message on stderr, exit 1) on anything unexpected.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

stamp="node_modules/.sesh-install-stamp"
claude_pkg="node_modules/@anthropic-ai/claude-code"
claude_exe="$claude_pkg/bin/claude.exe"
# The native claude binary is ~360 MB; the placeholder npm unpacks before postinstall is tiny.
claude_min_bytes=100000000

die() {
    echo "tests/agents/install.sh: FAILED: $*" >&2
    exit 1
}

pinned_version() {  # the exact version package.json pins for package $1
    node -p "require('./package.json').dependencies['$1']"
}

installed_version() {  # the version of package $1 inside node_modules
    node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || echo "missing"
}

is_native_claude() {
    [[ -f "$claude_exe" ]] || return 1
    local size
    size="$(stat -c %s "$claude_exe")"
    [[ "$size" -ge "$claude_min_bytes" ]] || return 1
    # ELF magic: the placeholder is a script or a stub, never an ELF.
    [[ "$(head -c 4 "$claude_exe" | od -An -c | tr -d ' ')" == '177ELF' ]]
}

verify() {
    local pkg want got
    for pkg in @anthropic-ai/claude-code @openai/codex @mariozechner/pi-coding-agent; do
        want="$(pinned_version "$pkg")"
        got="$(installed_version "$pkg")"
        [[ "$want" == "$got" ]] || { echo "$pkg: pinned $want, installed $got" >&2; return 1; }
    done
    is_native_claude || { echo "$claude_exe is not the native claude binary" >&2; return 1; }
    # Smoke-run each CLI in a throwaway HOME: --version of codex/pi creates state dirs in HOME.
    local scratch rc=0
    scratch="$(mktemp -d)"
    (
        export HOME="$scratch" CODEX_HOME="$scratch/.codex" CLAUDE_CONFIG_DIR="$scratch/.claude" \
            PI_CODING_AGENT_DIR="$scratch/.pi/agent" PI_OFFLINE=1 PI_TELEMETRY=0 \
            PI_SKIP_VERSION_CHECK=1 DISABLE_AUTOUPDATER=1 PATH="$here/node_modules/.bin:$PATH"
        set -e
        # Captured, not piped into `grep -q`: with pipefail an early grep exit fails the pipe.
        out="$(timeout 60 claude --version 2>&1)"
        [[ "$out" == *"$(pinned_version @anthropic-ai/claude-code)"* ]] || { echo "claude: $out" >&2; exit 1; }
        out="$(timeout 60 codex --version 2>&1)"
        [[ "$out" == *"$(pinned_version @openai/codex)"* ]] || { echo "codex: $out" >&2; exit 1; }
        out="$(timeout 60 pi --version 2>&1)"
        [[ "$out" == *"$(pinned_version @mariozechner/pi-coding-agent)"* ]] || { echo "pi: $out" >&2; exit 1; }
    ) || rc=$?
    rm -rf "$scratch"
    [[ $rc -eq 0 ]] || { echo "a CLI failed its --version smoke run" >&2; return 1; }
}

command -v node >/dev/null || die "node is not on PATH (need node >= 20)"
command -v npm >/dev/null || die "npm is not on PATH"
[[ -f package-lock.json ]] || die "package-lock.json is missing next to package.json"

if [[ -f "$stamp" && "$stamp" -nt package-lock.json && "$stamp" -nt package.json ]]; then
    if verify; then
        echo "tests/agents: agent CLIs up to date"
        exit 0
    fi
    echo "tests/agents: installed CLIs fail verification; reinstalling" >&2
fi

rm -f "$stamp"
echo "tests/agents: npm ci (claude $(pinned_version @anthropic-ai/claude-code)," \
    "codex $(pinned_version @openai/codex), pi $(pinned_version @mariozechner/pi-coding-agent))"
# --loglevel=error hides the expected EBADENGINE warning: claude-code declares node>=22, but
# its bin is a native binary and never runs on this node.
npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed (see npm's output above)"

# claude's postinstall copies the native binary from its platform package over bin/claude.exe.
# npm may skip install scripts (ignore-scripts, or npm's allowScripts policy); the copy needs
# no network, so run it here when the binary is still the placeholder.
if ! is_native_claude; then
    echo "tests/agents: claude postinstall did not run; running it" >&2
    (cd "$claude_pkg" && node install.cjs) || die "claude-code install.cjs failed"
fi

verify || die "installed agent CLIs failed verification (see above)"
touch "$stamp"
echo "tests/agents: agent CLIs installed"
