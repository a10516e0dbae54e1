"""Cheaper claims and labels under load.

- A label refers to its worker's slot of the task, not to the project, task and worker apiece:
  three foreign key checks per label, each locking a row many writers share (every label of a
  project locked the project's row), become one on the slot the label just filled.
- Lease expiry is indexed by (project, expires_at); on PostgreSQL only leases are indexed, so a
  label's update of its slot adds no entry there.
- PostgreSQL keeps 30% of each tasks page free, so that claims update tasks in place (HOT).
  This applies to pages written from now on; `VACUUM FULL tasks` rewrites the existing ones.

Stores written by crowdnb before lease expiry re-checked a slot's status can hold labels whose
slot was expired away (and perhaps leased to the same worker again): those get their slot back
as done (counted on the task again) before the key is added.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

from crowdnb.store.schema import TASKS_FILLFACTOR

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PARTS = (('project_id', 'projects', 'CASCADE'), ('task_id', 'tasks', 'CASCADE'), ('worker_id', 'workers', None))


NO_SLOT = "NOT EXISTS (SELECT 1 FROM assignments s WHERE s.task_id = a.task_id AND s.worker_id = a.worker_id)"
REPAIR = (
    # a label on a slot that was leased (again): the worker has labeled the task
    """UPDATE assignments SET status = 'done', expires_at = NULL WHERE status = 'leased' AND EXISTS
       (SELECT 1 FROM annotations a WHERE a.task_id = assignments.task_id AND a.worker_id = assignments.worker_id)""",
    # labels without a slot: their slots count on the task again ...
    f"""UPDATE tasks SET n_active = n_active + (SELECT count(DISTINCT a.worker_id) FROM annotations a
           WHERE a.task_id = tasks.id AND {NO_SLOT})
       WHERE EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = tasks.id AND {NO_SLOT})""",
    f"""UPDATE tasks SET is_open = n_active < coalesce(overlap, (SELECT p.overlap FROM projects p WHERE p.id = tasks.project_id))
       WHERE EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = tasks.id AND {NO_SLOT})""",
    # ... and come back as done
    f"""INSERT INTO assignments (project_id, task_id, worker_id, status)
       SELECT DISTINCT a.project_id, a.task_id, a.worker_id, 'done' FROM annotations a WHERE {NO_SLOT}""",
)

def upgrade() -> None:
    for statement in REPAIR:
        op.execute(sa.text(statement))
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        for column, table, _ in PARTS:
            batch_op.drop_constraint(op.f(f'fk_annotations_{column}_{table}'), type_='foreignkey')
        batch_op.create_foreign_key(
            op.f('fk_annotations_task_id_assignments'), 'assignments',
            ['task_id', 'worker_id'], ['task_id', 'worker_id'], ondelete='CASCADE',
        )
    op.drop_index('ix_assignments_expiry', table_name='assignments')
    op.create_index(
        'ix_assignments_expiry', 'assignments', ['project_id', 'expires_at'],
        postgresql_where=sa.text("status = 'leased'"),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE tasks SET (fillfactor = {TASKS_FILLFACTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE tasks RESET (fillfactor)')
    op.drop_index('ix_assignments_expiry', table_name='assignments')
    op.create_index('ix_assignments_expiry', 'assignments', ['project_id', 'status', 'expires_at'])
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_annotations_task_id_assignments'), type_='foreignkey')
        for column, table, ondelete in PARTS:
            batch_op.create_foreign_key(
                op.f(f'fk_annotations_{column}_{table}'), table, [column], ['id'], ondelete=ondelete
            )
