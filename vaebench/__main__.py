"""``python -m vaebench``: the command line (see :mod:`vaebench.cli`)."""

import sys

from vaebench.cli import main

if __name__ == "__main__":
    sys.exit(main())
