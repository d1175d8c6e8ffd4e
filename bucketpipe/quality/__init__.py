"""Data quality: scores, column profiles, thresholds and recommendations."""
