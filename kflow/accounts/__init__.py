"""Signing in and API access: tokens, sessions, the sign-in throttle."""
