"""Quality control: project quality policy, control-task flag, answer flags, workers' standing.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

from crowdnb.store.schema import JSONType, UTCDateTime, utcnow

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', JSONType, nullable=True))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_control', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_tasks_control', ['project_id', 'is_control', 'position'], unique=False)
    # A stored None is JSON null, not SQL NULL.
    tasks = sa.table('tasks', sa.column('known_answer', JSONType), sa.column('is_control', sa.Boolean))
    op.execute(
        tasks.update()
        .where(tasks.c.known_answer.is_not(None), sa.cast(tasks.c.known_answer, sa.Text) != 'null')
        .values(is_control=True)
    )
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag', sa.String(length=32), nullable=True))
    op.create_table('project_workers',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('n_control', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_correct', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_consensus', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_agreed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skips_in_row', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'banned')", name=op.f('ck_project_workers_status_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_workers_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_project_workers_worker_id_workers')),
    sa.PrimaryKeyConstraint('project_id', 'worker_id', name=op.f('pk_project_workers'))
    )


def downgrade() -> None:
    op.drop_table('project_workers')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_column('flag')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_control')
        batch_op.drop_column('is_control')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('quality')
