"""`python -m jobs`: the `bucketpipe` command plus the checkout-only `bench` subcommand."""

import sys

from benchmarks import cli as bench
from bucketpipe.jobs.cli import main

sys.exit(main(extra=(bench,)))
