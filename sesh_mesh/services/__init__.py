"""Transcript services, pure of the daemon: the backup file, transcript placement and cwd rewriting,
the full-text index, and the namer's prompt and reply. Blocking code; callers run it off the loop.

Imports only the agent adapters and the error tree, never daemon, cli, tui, or network libraries.
"""
