"""Mail: the outbox and its relay, who is told, reminders and digests, templates."""
