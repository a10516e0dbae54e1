"""Stored results, and tasks indexed in order.

`results(store=True)` keeps a project's last aggregation (method, parameters, time, counts, and
one answer per task) so that dashboards, exports and the server read it in milliseconds instead
of aggregating again. Reads of a project's tasks in order, and of its labels in pieces of
tasks, walk the new (project, position) index of tasks.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crowdnb.store.schema import UTCDateTime, utcnow

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_index(op.f('ix_tasks_position'), 'tasks', ['project_id', 'position'])
    op.create_table(
        'result_runs',
        sa.Column('project_id', sa.Integer, nullable=False),
        sa.Column('method', sa.String(64), nullable=False),
        sa.Column('params', JSONType, nullable=False),
        sa.Column('include_flagged', sa.Boolean, nullable=False),
        sa.Column('n_tasks', sa.BigInteger, nullable=False),
        sa.Column('n_labels', sa.BigInteger, nullable=False),
        sa.Column('computed_at', UTCDateTime(), nullable=False, server_default=utcnow()),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_result_runs')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE', name=op.f('fk_result_runs_project_id_projects')),
    )
    op.create_table(
        'results',
        sa.Column('project_id', sa.Integer, nullable=False),
        sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer, 'sqlite'), nullable=False),
        sa.Column('position', sa.BigInteger, nullable=False),
        sa.Column('label', JSONType, nullable=True),
        sa.Column('confidence', sa.Float, nullable=True),
        sa.Column('n_labels', sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'task_id', name=op.f('pk_results')),
        sa.ForeignKeyConstraint(['project_id'], ['result_runs.project_id'], ondelete='CASCADE', name=op.f('fk_results_project_id_result_runs')),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='CASCADE', name=op.f('fk_results_task_id_tasks')),
    )
    op.create_index(op.f('ix_results_position'), 'results', ['project_id', 'position'])


def downgrade() -> None:
    op.drop_table('results')
    op.drop_table('result_runs')
    op.drop_index('ix_tasks_position', 'tasks')
