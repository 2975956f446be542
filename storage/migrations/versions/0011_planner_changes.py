"""planner changes: a log of what the reminder planner must look at again, written by triggers

Every write that can change a commune's reminders (its deadlines, units, cases; its members' memberships,
accounts, names and channels, reminder settings and drafts) leaves a row naming the commune, the province
or the person; the planner re-plans what they name and deletes the rows it read (scheduler/incremental.py).
Triggers, not the application, so that no way of writing (a handler, the console, a test, SQL by hand) is
missed. A conversation counts only when it starts, ends, or its nominee's name changes (the draft reminder).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (the row's commune, province, person; the columns whose update counts; a condition on updates)
WATCHED: dict[str, tuple[str, str, str, tuple[str, ...], str]] = {
    'case': ('commune_code', '', '', ('commune_code', 'unit_id', 'status', 'submitted_at'), ''),
    'unit': ('commune_code', '', '', ('commune_code', 'name', 'retired_at'), ''),
    'deadline': ('commune_code', 'province_code', '', (), ''),
    'membership': ('commune_code', 'province_code', 'person_id', (), ''),
    'account': ('', '', 'person_id', ('person_id', 'channel', 'chat_id', 'unreachable_at'), ''),
    'person': ('', '', 'id', ('name', 'last_channel', 'chosen_channel'), ''),
    'remindersetting': ('', '', 'person_id', (), ''),
    'conversation': ('', '', 'person_id', ('person_id', 'state'), 'name'),
}


def _values(row: str, commune: str, province: str, person: str) -> str:
    return ", ".join(f"{row}.{column}" if column else "NULL" for column in (commune, province, person))


def _sqlite_name_changed() -> str:
    return ("json_extract(OLD.state, '$.answers.name') IS NOT json_extract(NEW.state, '$.answers.name')"
            " OR OLD.person_id != NEW.person_id")


def _postgres_name_changed() -> str:
    return ("(OLD.state -> 'answers' ->> 'name') IS DISTINCT FROM (NEW.state -> 'answers' ->> 'name')"
            " OR OLD.person_id <> NEW.person_id")


def _sqlite(table: str, commune: str, province: str, person: str, columns: tuple[str, ...], when: str) -> list[str]:
    insert = "INSERT INTO plannerchange (commune_code, province_code, person_id) VALUES"
    of = f" OF {', '.join(columns)}" if columns else ""
    changed = f" WHEN {_sqlite_name_changed()}" if when else ""
    return [
        f'CREATE TRIGGER plannerchange_{table}_insert AFTER INSERT ON "{table}" BEGIN '
        f'{insert} ({_values("NEW", commune, province, person)}); END',
        f'CREATE TRIGGER plannerchange_{table}_update AFTER UPDATE{of} ON "{table}"{changed} BEGIN '
        f'{insert} ({_values("NEW", commune, province, person)}); '
        f'{insert} ({_values("OLD", commune, province, person)}); END',
        f'CREATE TRIGGER plannerchange_{table}_delete AFTER DELETE ON "{table}" BEGIN '
        f'{insert} ({_values("OLD", commune, province, person)}); END',
    ]


def _postgres(table: str, commune: str, province: str, person: str, columns: tuple[str, ...], when: str) -> list[str]:
    insert = "INSERT INTO plannerchange (commune_code, province_code, person_id) VALUES"
    same = " AND ".join(f"OLD.{c} IS NOT DISTINCT FROM NEW.{c}" for c in (commune, province, person) if c)
    of = f" OF {', '.join(columns)}" if columns else ""
    changed = f" WHEN ({_postgres_name_changed()})" if when else ""
    return [
        f"""CREATE FUNCTION plannerchange_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'DELETE' THEN
                {insert} ({_values("NEW", commune, province, person)});
            END IF;
            IF TG_OP = 'DELETE' OR NOT ({same}) THEN
                {insert} ({_values("OLD", commune, province, person)});
            END IF;
            RETURN NULL;
        END $$""",
        f'CREATE TRIGGER plannerchange_{table}_insert AFTER INSERT ON "{table}" '
        f'FOR EACH ROW EXECUTE FUNCTION plannerchange_{table}()',
        f'CREATE TRIGGER plannerchange_{table}_update AFTER UPDATE{of} ON "{table}" '
        f'FOR EACH ROW{changed} EXECUTE FUNCTION plannerchange_{table}()',
        f'CREATE TRIGGER plannerchange_{table}_delete AFTER DELETE ON "{table}" '
        f'FOR EACH ROW EXECUTE FUNCTION plannerchange_{table}()',
    ]


def upgrade() -> None:
    op.create_table(
        'plannerchange',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('commune_code', sa.String(length=5), nullable=True),
        sa.Column('province_code', sa.String(length=2), nullable=True),
        sa.Column('person_id', sa.Integer(), nullable=True),
    )
    build = _postgres if op.get_bind().dialect.name == 'postgresql' else _sqlite
    for table, spec in WATCHED.items():
        for statement in build(table, *spec):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in WATCHED:
        for operation in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS plannerchange_{table}_{operation}' + (f' ON "{table}"' if postgres else ''))
        if postgres:
            op.execute(f'DROP FUNCTION IF EXISTS plannerchange_{table}()')
    op.drop_table('plannerchange')
