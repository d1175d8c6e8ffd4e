"""`streamlit run app/main.py` from a source checkout: the dashboard of `bucketpipe/app/`.

The dashboard's code is installed with the package (`bucketpipe dashboard` runs
`bucketpipe/app/main.py`); Streamlit reruns this script on every interaction, and each rerun
runs the entry script afresh.
"""

import runpy

runpy.run_module("bucketpipe.app.main", run_name="__main__")
