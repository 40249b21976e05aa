"""A minimal Django app for the django-fsm-2 contender (configured in-process by peers.django)."""
