"""Restore the hand-out index's descending priority on SQLite.

Revision 0002 rebuilt the tasks table on SQLite (batch mode), and the rebuilt queue index lost
its ``priority DESC``: every claim then sorted the whole open queue. Plain drop/create keeps it.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_tasks_queue', table_name='tasks')
    op.create_index('ix_tasks_queue', 'tasks', ['project_id', 'is_open', sa.text('priority DESC'), 'position'], unique=False)


def downgrade() -> None:
    pass  # the index is the same as before, only correct again
