"""The bucket source: files dropped in a bucket or directory, landed incrementally by ETag."""
