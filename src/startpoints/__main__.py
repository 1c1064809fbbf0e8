"""`python -m startpoints` runs the command line."""

from startpoints.cli.main import main

raise SystemExit(main())
