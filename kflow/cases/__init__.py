"""The case tables: one row per case of every type, and the append-only history."""
