"""Per-agent specifics (claude, codex, pi): data dirs, transcript formats, pane signals, process recognition.

This package holds knowledge, not policy: it must not import sesh_mesh.daemon, sesh_mesh.cli or sesh_mesh.tui.
"""
