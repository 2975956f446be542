"""inbox: every update stored before it is acknowledged, handled once and in order per chat

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'inbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('update_key', sa.String(length=64), nullable=False),
        sa.Column('chat_id', sa.String(length=64), nullable=False),
        sa.Column('album', sa.String(length=64), nullable=True),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('received_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('handled_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('replies', sa.JSON(), nullable=False),
        sa.Column('replied_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('channel', 'update_key'),
    )
    op.create_index('ix_inbox_open', 'inbox', ['channel', 'chat_id', 'id'],
                    postgresql_where=sa.text('replied_at IS NULL'), sqlite_where=sa.text('replied_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_inbox_open', table_name='inbox')
    op.drop_table('inbox')
