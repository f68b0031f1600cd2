"""Browser tests: the dashboard in headless Chromium (marked ``browser``)."""
