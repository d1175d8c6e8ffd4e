"""Dataset declarations; importing this package registers them in the catalog."""

from bucketpipe.catalog.datasets import bars, corporate, financials, finnhub, market
from bucketpipe.clean import derived, overview
from bucketpipe.clean.job import AFTER_CLEAN

# Daily bars and indicators are computed after the catalog datasets of every clean run, then
# the market overview from quotes, profiles and bars.
for hook in (derived.derive, overview.update_overview):
    if hook not in AFTER_CLEAN:
        AFTER_CLEAN.append(hook)

__all__ = ["bars", "corporate", "derived", "financials", "finnhub", "market"]
