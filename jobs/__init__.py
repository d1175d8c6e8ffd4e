"""Job entry points: the `bucketpipe` command and one module per subcommand."""
