"""``python -m ewacct.commands``: the compare/calibrate/report subcommands on their own."""

import sys

from ewacct.commands import main

if __name__ == "__main__":
    sys.exit(main())
