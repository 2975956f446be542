"""export record: the audit of every export of cases (who, scope, period, files)

Revision ID: 0006
Revises: 0005 (re-chained after 0005 when the branches merge)
Create Date: 2026-12-04 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exportrecord',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('scope_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('period_start', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('statuses', sa.JSON(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('missing_photos', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exportrecord', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exportrecord_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exportrecord', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exportrecord_person_id'))
    op.drop_table('exportrecord')
