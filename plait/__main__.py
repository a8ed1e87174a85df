"""`python -m plait ...` runs the plait command."""
from plait.cli import main

if __name__ == "__main__":  # importing the module (doctest collection, tools) runs nothing
    raise SystemExit(main())
