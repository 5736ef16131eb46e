"""The manual clock's time, so that time under test does not jump back at a restart.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manual_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("now_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("manual_clock")
