"""Task transfers (the Worker SDK's ``task.transfer``), and the transfer that offered each
reservation.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SID = sa.String(34)


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("workspace_sid", SID, nullable=False),
        sa.Column("task_sid", SID, nullable=False),
        sa.Column("initiating_reservation_sid", SID, nullable=False),
        sa.Column("initiating_worker_sid", SID, nullable=False),
        sa.Column("initiating_queue_sid", SID),
        sa.Column("initiating_workflow_sid", SID),
        sa.Column("transfer_type", sa.String(16), nullable=False),
        sa.Column("transfer_to", SID, nullable=False),
        sa.Column("transfer_mode", sa.String(16), nullable=False),
        sa.Column("transfer_status", sa.String(16), nullable=False),
        sa.Column("transfer_failed_reason", sa.Text),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_transfers_workspace_sid", "transfers", ["workspace_sid"])
    op.create_index("ix_transfers_task_sid", "transfers", ["task_sid"])
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("transfer_sid", SID))


def downgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("transfer_sid")
    op.drop_table("transfers")
