"""The per-machine asyncio daemon: owns the store, serves the local API, links to peers.

It must not import textual; tmux and agent specifics stay behind `sesh_mesh.agents`."""
