"""The cluster: the nodes sharing this database, and which node owns each workspace.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("leaving", sa.Boolean, nullable=False),
    )
    op.create_table(
        "workspace_leases",
        sa.Column("workspace_sid", sa.String(34), primary_key=True),
        sa.Column("owner", sa.String(128)),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("pinned", sa.String(128)),
    )


def downgrade() -> None:
    op.drop_table("workspace_leases")
    op.drop_table("cluster_nodes")
