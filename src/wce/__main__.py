"""``python -m wce``: the same as the ``wce`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
