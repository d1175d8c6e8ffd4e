"""`python -m bucketpipe.jobs` runs the `bucketpipe` command."""

import sys

from bucketpipe.jobs.cli import main

sys.exit(main())
