"""drop ix_case_commune_code: ix_case_commune_name and ix_case_commune_submitted start with the same column,
so it served no query they do not, and every case written paid for it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_case_commune_code', table_name='case')


def downgrade() -> None:
    op.create_index('ix_case_commune_code', 'case', ['commune_code'])
