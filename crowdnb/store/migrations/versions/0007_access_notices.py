"""PostgreSQL tells the servers when access is taken away.

A crowd server process keeps accounts and memberships in memory (`crowdnb.server.caches`);
these triggers NOTIFY the channel it listens on whenever a token, role or name of a worker
changes, a worker or membership row is deleted, or a project is renamed or deleted, by
whatever path (crowdnb, psql, another tool). One notice per statement. SQLite servers keep
nothing in memory, so there is nothing to do there.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CHANNEL = 'crowdnb_access'
TRIGGERS = {
    'workers_access_changed': 'AFTER UPDATE OF token_hash, role, name OR DELETE ON workers',
    'project_workers_access_changed': 'AFTER DELETE ON project_workers',
    'projects_access_changed': 'AFTER UPDATE OF name OR DELETE ON projects',
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        "CREATE FUNCTION crowdnb_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    for name, when in TRIGGERS.items():
        op.execute(f'CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION crowdnb_access_changed()')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, when in TRIGGERS.items():
        op.execute(f'DROP TRIGGER {name} ON {when.split(" ON ")[1]}')
    op.execute('DROP FUNCTION crowdnb_access_changed()')
