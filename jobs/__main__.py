"""`python -m jobs` runs the `bucketpipe` command."""

import sys

from jobs.cli import main

sys.exit(main())
