"""web chat: browser sessions, the messages a web chat shows, and the secrets the app makes for itself

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'websession',
        sa.Column('token_hash', sa.String(length=64), primary_key=True),
        sa.Column('account_id', sa.Integer(), sa.ForeignKey('account.id'), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_websession_account_id', 'websession', ['account_id'])
    op.create_table(
        'webmessage',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('chat_id', sa.String(length=64), nullable=False),
        sa.Column('mine', sa.Boolean(), nullable=False),
        sa.Column('client_key', sa.String(length=64), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('chat_id', 'client_key'),
    )
    op.create_index('ix_webmessage_chat', 'webmessage', ['chat_id', 'id'])
    op.create_table(
        'appsecret',
        sa.Column('name', sa.String(length=32), primary_key=True),
        sa.Column('value', sa.String(length=128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('appsecret')
    op.drop_index('ix_webmessage_chat', table_name='webmessage')
    op.drop_table('webmessage')
    op.drop_index('ix_websession_account_id', table_name='websession')
    op.drop_table('websession')
