"""Firing triggers: authority, visibility, parameters, history, deadlines and fire."""
