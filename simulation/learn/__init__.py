"""The walkthrough's logic and lesson content; no Streamlit."""
