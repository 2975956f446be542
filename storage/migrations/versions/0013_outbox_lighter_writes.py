"""outbox: no foreign key on person_id, and its index only on the new-case notices

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00

A reminder morning writes 60,000 outbox rows at once, and the sender rewrites each of them twice (claimed, sent).
The foreign key checked and row-locked the person for every row written (a third of PostgreSQL's time per row,
and a WAL record each); people are never deleted, and the planner and the notices take the person from their
membership. The index on person_id took every row at a random place; the only frequent look-up by person is a
secretary's waiting new-case digest (at each submission), so the index now holds only those notices. Revoking a
member (rare) finds their waiting messages through the pending rows' index. The condition is a literal, as in
the look-up (bot/casework.py): a bound parameter would not match it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTICES = sa.text("kind = 'newcases'")
# SQLite's foreign keys have no names: batch mode names them by this convention to drop one (it copies the table).
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox", naming_convention=NAMING, recreate="always") as batch_op:
            batch_op.drop_constraint("fk_outbox_person_id_person", type_="foreignkey")
    else:
        op.drop_constraint("outbox_person_id_fkey", "outbox", type_="foreignkey")
    op.drop_index("ix_outbox_person_id", table_name="outbox")
    op.create_index("ix_outbox_newcases", "outbox", ["person_id"], postgresql_where=NOTICES, sqlite_where=NOTICES)


def downgrade() -> None:
    op.drop_index("ix_outbox_newcases", table_name="outbox")
    op.create_index("ix_outbox_person_id", "outbox", ["person_id"])
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox", recreate="always") as batch_op:
            batch_op.create_foreign_key("fk_outbox_person_id_person", "person", ["person_id"], ["id"])
    else:
        op.create_foreign_key("outbox_person_id_fkey", "outbox", "person", ["person_id"], ["id"])
