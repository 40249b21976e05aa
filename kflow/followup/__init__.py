"""Follow-up: indicators and measurements."""
