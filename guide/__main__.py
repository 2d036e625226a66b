"""`python -m guide`: the same as the `guide` command."""

from guide.cli import main

raise SystemExit(main())
