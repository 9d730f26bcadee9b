from sesh_mesh.cli.main import main

raise SystemExit(main())
