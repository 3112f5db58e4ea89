"""`python -m batch`: the same command line as the `contacts` console script."""

import sys

from batch.cli import main

sys.exit(main())
