"""Browser sessions remember device, address and last use.

Revision ID: 0009
Revises: 0008
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("browser_sessions") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("ip", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reauth_at", sa.Float(), nullable=True))
    # Sessions started before this revision get a public id too, so they can be listed and ended.
    sessions = sa.table(
        "browser_sessions", sa.column("session_hash", sa.String), sa.column("public_id", sa.String)
    )
    conn = op.get_bind()
    for (session_hash,) in conn.execute(sa.select(sessions.c.session_hash)).all():
        conn.execute(
            sa.update(sessions)
            .where(sessions.c.session_hash == session_hash)
            .values(public_id=secrets.token_urlsafe(16))
        )
    op.create_index("ix_browser_sessions_public_id", "browser_sessions", ["public_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_browser_sessions_public_id", table_name="browser_sessions")
    with op.batch_alter_table("browser_sessions") as batch:
        batch.drop_column("reauth_at")
        batch.drop_column("last_used_at")
        batch.drop_column("ip")
        batch.drop_column("user_agent")
        batch.drop_column("public_id")
