"""sesh: a cross-machine manager for coding-agent sessions (claude, codex, pi) in tmux.

The package keeps a pure core (`store`) apart from its edges (`daemon`, `agents`, `cli`, `tui`)."""

__version__ = "0.1.0"
