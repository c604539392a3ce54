"""Page scripts of the Streamlit app (run by st.navigation in dashboards/app.py, not imported)."""
