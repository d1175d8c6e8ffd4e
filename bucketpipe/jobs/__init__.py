"""The `bucketpipe` command: one module per subcommand, errors mapped to exit codes."""
