"""Units of work outside a web request, each owning its transactions (Runtime.transaction):
the reminder sweep (sweep, timers), the daily digests (digests), the outbox relay (relay) and
nightly maintenance (statistics), run by the scheduler (scheduler) and by `kflow remind`. The
domain packages they call take a session and never commit."""
