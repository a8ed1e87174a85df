"""`python -m plait ...` runs the plait command."""
from plait.cli import main

raise SystemExit(main())
