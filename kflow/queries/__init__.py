"""Read models: the lists, the inbox, the overdue list, the overview, history."""
