"""The crowd model of dynamic overlap: confusion counts per worker, decided answers per class,
and each task's decision.

`project_workers.pace_credit` carries the fraction of a task a paced worker has earned
towards their next one. `worker_confusion` counts, per project and worker, how often they answered class `given` where
the truth was class `truth` (control answers, and labels on tasks the crowd decided); rows
are incremented in place, so concurrent labels never lose a count. `class_counts` counts the
decided answers per class (the class prior). A task records how it was decided (`crowd`: a
confident posterior; `review`: sent to an inspector; `inspector`: decided by one), its answer
and the posterior it was decided at. `worker_pairs` keeps, per pair of workers who labeled
the same decided tasks, how often they agreed and how often their skills say they would.

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column('project_workers', sa.Column('pace_credit', sa.Float, nullable=False, server_default='0'))
    op.add_column('tasks', sa.Column('decided', sa.String(16), nullable=True))
    op.add_column('tasks', sa.Column('answer', JSONType, nullable=True))
    op.add_column('tasks', sa.Column('confidence', sa.Float, nullable=True))
    op.create_index(op.f('ix_tasks_decided'), 'tasks', ['project_id', 'decided'])
    op.create_table(
        'worker_confusion',
        sa.Column('project_id', sa.Integer, nullable=False),
        sa.Column('worker_id', sa.Integer, nullable=False),
        sa.Column('truth', sa.SmallInteger, nullable=False),
        sa.Column('given', sa.SmallInteger, nullable=False),
        sa.Column('n', sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'worker_id', 'truth', 'given', name=op.f('pk_worker_confusion')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE', name=op.f('fk_worker_confusion_project_id_projects')),
        sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_worker_confusion_worker_id_workers')),
    )
    op.create_table(
        'class_counts',
        sa.Column('project_id', sa.Integer, nullable=False),
        sa.Column('code', sa.SmallInteger, nullable=False),
        sa.Column('n', sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'code', name=op.f('pk_class_counts')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE', name=op.f('fk_class_counts_project_id_projects')),
    )


    op.create_table(
        'worker_pairs',
        sa.Column('project_id', sa.Integer, nullable=False),
        sa.Column('first', sa.Integer, nullable=False),
        sa.Column('second', sa.Integer, nullable=False),
        sa.Column('shared', sa.Integer, nullable=False),
        sa.Column('agreed', sa.Integer, nullable=False),
        sa.Column('expected', sa.Float, nullable=False),
        sa.Column('variance', sa.Float, nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'first', 'second', name=op.f('pk_worker_pairs')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE', name=op.f('fk_worker_pairs_project_id_projects')),
    )


def downgrade() -> None:
    op.drop_table('worker_pairs')
    op.drop_table('class_counts')
    op.drop_table('worker_confusion')
    op.drop_index(op.f('ix_tasks_decided'), 'tasks')
    op.drop_column('tasks', 'confidence')
    op.drop_column('tasks', 'answer')
    op.drop_column('tasks', 'decided')
    op.drop_column('project_workers', 'pace_credit')
