"""Crowd work: inspection (reviews, review sampling and window), rework, the points ledger.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

from crowdnb.store.schema import UTCDateTime, utcnow

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_rate', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('review_window_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_assignments_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('leased', 'done', 'skipped', 'rework')")
    op.create_table('reviews',
    sa.Column('annotation_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('claimed_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f('ck_reviews_decision_known')),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotations.id'], name=op.f('fk_reviews_annotation_id_annotations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspector_id'], ['workers.id'], name=op.f('fk_reviews_inspector_id_workers')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_reviews_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('annotation_id', name=op.f('pk_reviews'))
    )
    op.create_index('ix_reviews_project_decision', 'reviews', ['project_id', 'decision'], unique=False)
    op.create_table('ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('annotation_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', UTCDateTime(), server_default=utcnow(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ledger_project_id_projects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_ledger_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_key'))
    )
    op.create_index('ix_ledger_created', 'ledger', ['created_at'], unique=False)
    op.create_index('ix_ledger_worker', 'ledger', ['worker_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ledger_worker', table_name='ledger')
    op.drop_index('ix_ledger_created', table_name='ledger')
    op.drop_table('ledger')
    op.drop_index('ix_reviews_project_decision', table_name='reviews')
    op.drop_table('reviews')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_assignments_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('leased', 'done', 'skipped')")
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('review_window_seconds')
        batch_op.drop_column('review_rate')
