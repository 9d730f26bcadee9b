"""The daemon's sequenced session store and the pure replication rules.

It must not import the daemon, agents, cli, tui, textual, libtmux or websockets:
everything here is testable alone, in milliseconds."""
