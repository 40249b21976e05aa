"""Backup and move: every kflow table to one file and back, on either engine (docs/backup.md).

The file is gzip-compressed JSON Lines, written and read as a stream:

* line 1, the header: ``{"kflow_backup": 2, "kflow_version", "alembic_revision", "exported_at",
  "source", "key_id", "tables": [{"name", "columns": [{"name", "type"}], "rows"}]}``, tables in
  foreign-key dependency order (parents first);
* one line per row, ``[table, [value, ...]]``, values in the header's column order, tables in the
  header's order and rows by primary key;
* the trailer: ``{"end": "kflow_backup", "rows": n, "hmac_sha256": "..."}``, the HMAC-SHA256 of
  every byte before it (uncompressed, the header included), keyed by the operator's backup key
  (:func:`load_key`). A file without it, or whose bytes do not match it under the key given to
  the import, is refused: whoever lacks the key can read the file but cannot change it.
  ``key_id`` names the key (an HMAC of a fixed text, not the key), so a wrong key is refused
  before any row is read.

Values are JSON by column type: ``integer``, ``string`` and ``boolean`` as themselves; ``float`` as
a number (``"NaN"``, ``"Infinity"``, ``"-Infinity"`` as strings); ``date`` as an ISO date;
``datetime`` as ISO 8601 with its UTC offset; ``json`` as the stored JSON text, verbatim (so SQL
NULL and JSON ``null`` stay apart and the text is byte-identical); ``bytes`` as base64. A column of
any other type makes the export refuse rather than guess.

The export reads one consistent snapshot (one read transaction; REPEATABLE READ on PostgreSQL).
The import writes in one transaction into a database migrated to the same revision and holding
no rows at all, checks every count and the authentication code before it commits, and on
PostgreSQL moves each id sequence past the highest imported id. Format 1 (a plain SHA-256 that
anyone can recompute) is refused: it cannot be authenticated.

Modules: format (names, streams, BackupError, Summary), key (the backup key), codecs (values by
column type), schema (tables and revisions), export, pg_lines (PostgreSQL writing the export's
lines), reader and header (reading a file back), inserter (writing its rows), pg_bulk (foreign
keys and plain indexes set aside during a PostgreSQL import) and restore (the import).
"""

from kflow.tools.backup.codecs import DECODERS, ENCODERS
from kflow.tools.backup.export import export_file, export_stream, export_to
from kflow.tools.backup.format import FORMAT, FORMAT_VERSION, WRITE_BATCH, BackupError, Summary
from kflow.tools.backup.key import check_key, key_id, load_key
from kflow.tools.backup.restore import import_file, import_from, import_stream
from kflow.tools.backup.schema import code_revision, tables

__all__ = [
    "DECODERS",
    "ENCODERS",
    "FORMAT",
    "FORMAT_VERSION",
    "WRITE_BATCH",
    "BackupError",
    "Summary",
    "check_key",
    "code_revision",
    "export_file",
    "export_stream",
    "export_to",
    "import_file",
    "import_from",
    "import_stream",
    "key_id",
    "load_key",
    "tables",
]
