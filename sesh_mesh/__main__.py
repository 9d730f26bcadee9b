import sys

from sesh_mesh.cli.fast import run

code = run(sys.argv[1:])
if code is None:
    from sesh_mesh.cli.main import main

    code = main()
raise SystemExit(code)
