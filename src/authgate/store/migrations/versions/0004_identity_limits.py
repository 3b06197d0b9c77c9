"""Identity limits kept in the database: lockouts, code budgets, look-alike usernames.

Every existing username gets its look-alike skeleton, oldest account first. Where two
existing names already look alike, the older keeps the skeleton and the newer gets none
(NULL is allowed by the unique constraint): nothing is deleted or renamed, the newer one
simply protects no name, and the count is logged for the operator to look into.

Revision ID: 0004
Revises: 0003
"""

import logging

import disarm
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def skeleton(username: str) -> str:
    """authgate.identity.names.username_skeleton, which the store may not import."""
    return disarm.skeleton_key(username, digit_policy="tr39")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(length=1024), nullable=True))
    users = sa.table(
        "users",
        sa.column("sub", sa.String),
        sa.column("username", sa.String),
        sa.column("created_at", sa.Float),
        sa.column("username_skeleton", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(users.c.sub, users.c.username).order_by(users.c.created_at, users.c.sub)
    ).all()
    taken: set[str] = set()
    clashes = 0
    for sub, username in rows:
        key = skeleton(username) or None
        if key is not None and key in taken:
            key, clashes = None, clashes + 1
        if key is not None:
            taken.add(key)
            conn.execute(sa.update(users).where(users.c.sub == sub).values(username_skeleton=key))
    if clashes:
        log.warning("%d existing usernames look like an older one; they keep no skeleton", clashes)
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint(op.f("uq_users_username_skeleton"), ["username_skeleton"])

    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=330), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=True),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_updated_at", "login_failures", ["updated_at"])
    op.create_table(
        "limit_counters",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_limit_counters")),
    )
    op.create_index("ix_limit_counters_window_start", "limit_counters", ["window_start"])
    op.create_table(
        "code_locks",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("locked_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_code_locks_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sub", "purpose", name=op.f("pk_code_locks")),
    )


def downgrade() -> None:
    op.drop_table("code_locks")
    op.drop_index("ix_limit_counters_window_start", table_name="limit_counters")
    op.drop_table("limit_counters")
    op.drop_index("ix_login_failures_updated_at", table_name="login_failures")
    op.drop_table("login_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_username_skeleton"), type_="unique")
        batch.drop_column("username_skeleton")
