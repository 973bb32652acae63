"""``python -m tinyreason.lm_eval ARGS``: lm-eval's command line with ``--model tinyreason``."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
