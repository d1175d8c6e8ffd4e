"""Query functions behind the dashboard pages, testable without Streamlit."""

# Each function takes a connection whose views are the committed datasets (see
# `session.LakeSession`) and returns pandas frames or small records; `base.uses` records the
# datasets a function reads, so the dashboard caches its results by their snapshot versions.
