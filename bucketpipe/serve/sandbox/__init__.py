"""User SQL behind layered walls: parse-tree validation, a worker process, hard bounds."""
