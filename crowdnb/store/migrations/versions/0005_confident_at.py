"""Tasks remember when dynamic overlap closed them with a confident answer.

A ban gives the banned worker's slots back, which can reopen a closed task; when it closes again,
its labels must not count towards the workers' agreement a second time.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

from crowdnb.store.schema import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('confident_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('tasks', 'confident_at')
