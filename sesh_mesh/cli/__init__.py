"""The `sesh` command line: a thin client of the local daemon.

It must not import textual (only `sesh tui` loads the tui package, lazily) or libtmux."""
