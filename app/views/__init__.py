"""The dashboard's pages, one module each (run by st.navigation in app/main.py)."""
