"""``make bench-scale``: kflow where production runs (issue 19). PostgreSQL data sets up to
3.1 million cases kept as template databases between runs (``data``), the list and page
queries against their SQL twins (``queries``), pages and the API click through gunicorn over
HTTP against a minimal WSGI twin (``http``), and memory over many requests and across a sweep,
an export and an import (``memory``). ``python -m benchmarks.scale --help``."""
