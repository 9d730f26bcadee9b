"""The daemon's sequenced session store and the pure replication rules.

It must not import the daemon, agents, cli, tui, textual, libtmux, websockets or watchfiles:
everything here is testable alone, in milliseconds."""
