"""The `bucketpipe` command as a source checkout runs it: `python -m jobs <subcommand>`.

The command's code is `bucketpipe/jobs/` (installed with the package, one module per
subcommand); this shell adds `bench`, the benchmark harness in `benchmarks/`, which is never
installed.
"""
