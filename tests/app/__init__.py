"""App tests: the dashboard (dashboard/, pages/, app.py) through Streamlit's AppTest."""
