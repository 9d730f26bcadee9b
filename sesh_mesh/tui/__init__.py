"""The terminal UI (`sesh tui`, `sesh pick`): a Textual app that is a thin client of the daemon.

The only package that imports textual; nothing outside it may import it, and the CLI imports
it lazily, only when a UI is shown (`--select` and every other command stay fast).
"""
