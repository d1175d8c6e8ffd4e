"""Maintenance: compaction, raw archives, retention and vacuum."""
