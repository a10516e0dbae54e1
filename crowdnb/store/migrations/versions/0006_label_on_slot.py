"""A label refers to its worker's slot of the task, not to the project, task and worker apiece.

The three foreign keys cost three checks per label, each locking a row that many writers share
(every label of a project locked the project's row); the slot's key carries all three.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PARTS = (('project_id', 'projects', 'CASCADE'), ('task_id', 'tasks', 'CASCADE'), ('worker_id', 'workers', None))


def upgrade() -> None:
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        for column, table, _ in PARTS:
            batch_op.drop_constraint(op.f(f'fk_annotations_{column}_{table}'), type_='foreignkey')
        batch_op.create_foreign_key(
            op.f('fk_annotations_task_id_assignments'), 'assignments',
            ['task_id', 'worker_id'], ['task_id', 'worker_id'], ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_annotations_task_id_assignments'), type_='foreignkey')
        for column, table, ondelete in PARTS:
            batch_op.create_foreign_key(
                op.f(f'fk_annotations_{column}_{table}'), table, [column], ['id'], ondelete=ondelete
            )
