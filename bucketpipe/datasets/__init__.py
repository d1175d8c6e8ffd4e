"""Dataset declarations; importing this package registers them in the catalog."""

from bucketpipe import derived
from bucketpipe.clean import AFTER_CLEAN
from bucketpipe.datasets import bars, corporate, financials, finnhub, market

# Daily bars and indicators are computed after the catalog datasets of every clean run.
if derived.derive not in AFTER_CLEAN:
    AFTER_CLEAN.append(derived.derive)

__all__ = ["bars", "corporate", "derived", "financials", "finnhub", "market"]
