"""`python -m aggregator` runs the command line."""

import sys

from .cli import main

# Guarded: worker processes (pool.Workers) import the parent's main module again, as
# __mp_main__, and must not run the command line a second time.
if __name__ == "__main__":
    sys.exit(main())
