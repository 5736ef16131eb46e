"""Statistics rollups: counts and wait summaries per minute, hour and day, and the events
still to fold in.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SID = sa.String(34)


def _key() -> list[sa.Column[object]]:
    return [sa.Column("workspace_sid", SID, primary_key=True),
            sa.Column("scope", sa.String(16), primary_key=True),
            sa.Column("scope_sid", sa.String(34), primary_key=True),
            sa.Column("span", sa.BigInteger, primary_key=True),
            sa.Column("period_start", sa.BigInteger, primary_key=True),
            sa.Column("figure", sa.String(32), primary_key=True),
            sa.Column("channel", sa.String(64), primary_key=True)]


def upgrade() -> None:
    op.create_table(
        "stat_rollups", *_key(),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("minimum", sa.BigInteger, nullable=False),
        sa.Column("maximum", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stat_waits", *_key(),
        sa.Column("second", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stat_backfill",
        sa.Column("workspace_sid", SID, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False),
    )
    # The events already stored are folded into the rollups by the server, on first use.
    op.execute("INSERT INTO stat_backfill (workspace_sid, seq, done) "
               "SELECT workspace_sid, MAX(seq), 0 FROM events GROUP BY workspace_sid")


def downgrade() -> None:
    op.drop_table("stat_backfill")
    op.drop_table("stat_waits")
    op.drop_table("stat_rollups")
