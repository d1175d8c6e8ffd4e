"""Dataset declarations; importing this package registers them in the catalog."""

from bucketpipe.datasets import market

__all__ = ["market"]
