"""The `sesh` command line: a thin client of the local daemon.

One module per command group declares its commands' arguments and handlers (`register`), and
`main` assembles the groups. It must not import textual (only `sesh tui` loads the tui package,
lazily) or libtmux."""
