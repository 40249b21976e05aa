"""kflow's benchmark suite: transitions per second against its peers and the raw-SQL floors,
fan-out, queries and the reminder sweep at three data-set sizes.

``make bench`` runs it in full and writes benchmarks/results.json and docs/benchmarks.md;
``make bench-quick`` is a smoke run with tiny counts (see benchmarks/README.md).
"""
