"""Initial schema: projects, workers, tasks, annotations, assignments.

Revision ID: 0001
Revises: (none)
"""

from alembic import op
import sqlalchemy as sa

from crowdnb.store.schema import JSONType, UTCDateTime, utcnow

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('config', JSONType, nullable=False),
    sa.Column('overlap', sa.Integer(), server_default='1', nullable=False),
    sa.Column('price', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_seconds', sa.Integer(), server_default='600', nullable=False),
    sa.Column('created_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.CheckConstraint('overlap >= 1', name=op.f('ck_projects_overlap_positive')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_projects_price_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), server_default='worker', nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=True),
    sa.Column('created_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.CheckConstraint("role IN ('worker', 'inspector', 'manager')", name=op.f('ck_workers_role_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers')),
    sa.UniqueConstraint('name', name=op.f('uq_workers_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_workers_token_hash'))
    )
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('payload', JSONType, nullable=False),
    sa.Column('meta', JSONType, nullable=False),
    sa.Column('known_answer', JSONType, nullable=True),
    sa.Column('priority', sa.Float(), server_default='0', nullable=False),
    sa.Column('overlap', sa.Integer(), nullable=True),
    sa.Column('n_active', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_open', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_tasks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_tasks_project_external')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(
            'ix_tasks_queue', ['project_id', 'is_open', sa.text('priority DESC'), 'position'], unique=False
        )

    op.create_table('annotations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('label', JSONType, nullable=False),
    sa.Column('status', sa.String(length=16), server_default='submitted', nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('submitted_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'superseded', 'approved', 'rejected')", name=op.f('ck_annotations_status_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_annotations_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_annotations_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_annotations_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotations'))
    )
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.create_index('ix_annotations_project_status', ['project_id', 'status'], unique=False)
        batch_op.create_index('ix_annotations_task_worker', ['task_id', 'worker_id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='leased', nullable=False),
    sa.Column('leased_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('leased', 'done', 'skipped')", name=op.f('ck_assignments_status_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_assignments_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_assignments_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_assignments_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('task_id', 'worker_id', name='uq_assignments_task_worker')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_expiry', ['project_id', 'status', 'expires_at'], unique=False)
        batch_op.create_index('ix_assignments_worker_status', ['project_id', 'worker_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_worker_status')
        batch_op.drop_index('ix_assignments_expiry')

    op.drop_table('assignments')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_index('ix_annotations_task_worker')
        batch_op.drop_index('ix_annotations_project_status')

    op.drop_table('annotations')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_queue')

    op.drop_table('tasks')
    op.drop_table('workers')
    op.drop_table('projects')
