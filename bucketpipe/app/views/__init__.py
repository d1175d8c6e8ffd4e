"""The dashboard's pages, one module each (run by st.navigation in bucketpipe/app/main.py)."""
