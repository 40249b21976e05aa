"""Units of work outside a web request: the scheduler's jobs and the command line's."""
