"""``python -m elkit``: the command line."""

import sys

from elkit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
