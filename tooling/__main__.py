"""`python -m tooling`: the same command line as the `contacts-demo` console script."""

import sys

from tooling.cli import main

sys.exit(main())
