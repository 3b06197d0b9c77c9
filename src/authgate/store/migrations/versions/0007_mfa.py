"""TOTP factors, recovery codes, MFA login challenges, amr on browser sessions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Tables whose sign-in facts now say how the user authenticated; earlier rows were passwords.
_AMR_TABLES = ("browser_sessions", "refresh_families", "authorization_codes")


def upgrade() -> None:
    for table in _AMR_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("amr", sa.String(length=64), nullable=False, server_default="pwd")
            )
    op.create_table(
        "mfa_totp",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("pending_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("enabled_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_mfa_totp_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sub", name=op.f("pk_mfa_totp")),
    )
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sub"],
            ["users.sub"],
            name=op.f("fk_mfa_recovery_codes_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sub", "code_hash", name=op.f("pk_mfa_recovery_codes")),
    )
    op.create_table(
        "mfa_challenges",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amr", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_mfa_challenges_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_mfa_challenges")),
    )
    op.create_index(
        op.f("ix_mfa_challenges_expires_at"), "mfa_challenges", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mfa_challenges_expires_at"), table_name="mfa_challenges")
    op.drop_table("mfa_challenges")
    op.drop_table("mfa_recovery_codes")
    op.drop_table("mfa_totp")
    for table in reversed(_AMR_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("amr")
