"""national scale: indexes for a commune's secretaries, counts and lists of cases by period, the outbox's claim;
the channels' ids of photos already sent

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00

At 3,321 communes: the secretaries of a commune are looked up at every submission (membership by commune and
role); counts and lists of cases read a period of some communes (case by commune and date) or of every
commune (case by date, covering what progress counts); the sender claims the oldest pending rows of an
outbox burst without sorting it (a partial index on the pending rows, in the claim's order). The partial
index's condition is a literal, as in the claim (scheduler/outbox.py): a bound parameter would not match it.
A photo sent once to a channel is sent again by the channel's id of it (`sentfile`), not drawn and uploaded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index('ix_membership_commune_role', 'membership', ['commune_code', 'role'])
    op.create_index('ix_case_commune_submitted', 'case', ['commune_code', 'submitted_at', 'status', 'unit_id'],
                    postgresql_include=['id'])  # a page's ids from the index alone (SQLite's hold the rowid)
    op.create_index('ix_case_submitted', 'case', ['submitted_at', 'commune_code', 'status', 'unit_id'])
    op.create_index('ix_outbox_pending', 'outbox', ['due_at', 'id'], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    op.create_table(
        'sentfile',
        sa.Column('channel', sa.String(length=16), primary_key=True),
        sa.Column('sha256', sa.String(length=64), primary_key=True),
        sa.Column('file_id', sa.String(length=255), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('sentfile')
    op.drop_index('ix_outbox_pending', 'outbox')
    op.drop_index('ix_case_submitted', 'case')
    op.drop_index('ix_case_commune_submitted', 'case')
    op.drop_index('ix_membership_commune_role', 'membership')
