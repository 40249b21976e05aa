"""Unit subkinds, mirrors and värdskap (lifecycle.md §5.1, §5.2).

Units get a nullable ``subkind`` (existing units keep null), the NPO a programme unit mirrors
and an NPO's host healthcare region. A regional group under a healthcare region belongs to each
of its regions: the closure gets a (region, unit) row for each (none can exist before this
revision, which first allows such units; the statement is here for any made by hand).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kflow.db  # noqa: F401

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBKINDS = (
    "rpo",
    "rsg",
    "rag",
    "samordningsrad",
    "primarvardsrad",
    "regionalt_processteam",
    "lpo",
    "ks_rad",
    "stodfunktion",
    "forvaltning",
    "verksamhet",
    "lokalt_processteam",
    "lag",
    "kommun",
)

# Every unit at or below a regional group whose parent is a healthcare region, with each region
# of that healthcare region; the depth counts the way through the healthcare region.
ADD_SHARED = """
INSERT INTO unit_closure (ancestor_id, descendant_id, depth)
SELECT m.region_id, c.descendant_id, c.depth + 2
FROM units g
JOIN units h ON h.id = g.parent_id AND h.kind = 'healthcare_region'
JOIN healthcare_region_members m ON m.healthcare_region_id = h.id
JOIN unit_closure c ON c.ancestor_id = g.id
WHERE g.kind = 'regional_group' AND NOT EXISTS (
    SELECT 1 FROM unit_closure x
    WHERE x.ancestor_id = m.region_id AND x.descendant_id = c.descendant_id
)
"""
DROP_SHARED = """
DELETE FROM unit_closure WHERE EXISTS (
    SELECT 1
    FROM units g
    JOIN units h ON h.id = g.parent_id AND h.kind = 'healthcare_region'
    JOIN healthcare_region_members m ON m.healthcare_region_id = h.id
    JOIN unit_closure c ON c.ancestor_id = g.id
    WHERE g.kind = 'regional_group'
    AND m.region_id = unit_closure.ancestor_id AND c.descendant_id = unit_closure.descendant_id
)
"""
CHECK_SUBKIND = "subkind IN (" + ", ".join(f"'{s}'" for s in SUBKINDS) + ")"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Plain ADD COLUMN with its constraints inline: batch mode would copy ``units`` to a new
        # table and drop the old one, which every row referring to a unit refuses.
        op.execute(
            "ALTER TABLE units ADD COLUMN subkind VARCHAR(32) "
            f"CONSTRAINT ck_units_subkind CHECK ({CHECK_SUBKIND})"
        )
        for column in ("mirrors_id", "host_unit_id"):
            op.execute(
                f"ALTER TABLE units ADD COLUMN {column} INTEGER "
                f"CONSTRAINT fk_units_{column}_units REFERENCES units (id)"
            )
    else:
        with op.batch_alter_table("units", schema=None) as batch_op:
            batch_op.add_column(sa.Column("subkind", sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column("mirrors_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("host_unit_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f("fk_units_mirrors_id_units"), "units", ["mirrors_id"], ["id"]
            )
            batch_op.create_foreign_key(
                batch_op.f("fk_units_host_unit_id_units"), "units", ["host_unit_id"], ["id"]
            )
            batch_op.create_check_constraint(batch_op.f("ck_units_subkind"), CHECK_SUBKIND)
    op.execute(ADD_SHARED)


def downgrade() -> None:
    op.execute(DROP_SHARED)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_drop_columns()
        return
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_units_subkind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_units_host_unit_id_units"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_units_mirrors_id_units"), type_="foreignkey")
        batch_op.drop_column("host_unit_id")
        batch_op.drop_column("mirrors_id")
        batch_op.drop_column("subkind")


def _sqlite_drop_columns() -> None:
    """SQLite drops a column in place only if no constraint names it, and rebuilding ``units``
    would break every foreign key pointing at it. So: first remove the three columns' inline
    constraints from the stored definition (SQLite documents this for removing CHECK and
    FOREIGN KEY constraints, lang_altertable.html), then DROP COLUMN each."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'units'"
    ).scalar_one()
    inline = [f" CONSTRAINT ck_units_subkind CHECK ({CHECK_SUBKIND})"]
    inline += [f" CONSTRAINT fk_units_{c}_units REFERENCES units (id)" for c in COLUMNS[1:]]
    for text in inline:
        assert sql.count(text) == 1, text
        sql = sql.replace(text, "")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'units'", (sql,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    for column in reversed(COLUMNS):
        bind.exec_driver_sql(f"ALTER TABLE units DROP COLUMN {column}")


COLUMNS = ("subkind", "mirrors_id", "host_unit_id")
