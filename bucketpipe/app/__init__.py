"""The Streamlit dashboard: main.py (st.navigation, access, sidebar) and one page per view."""
