"""SRP verifiers for Cognito's USER_SRP_AUTH, and Cognito sign-in sessions.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "srp_verifiers",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("password_tag", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("verifier_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_srp_verifiers_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sub", name=op.f("pk_srp_verifiers")),
    )
    op.create_table(
        "cognito_auth_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"],
            ["users.sub"],
            name=op.f("fk_cognito_auth_sessions_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_cognito_auth_sessions")),
    )
    op.create_index("ix_cognito_auth_sessions_expires_at", "cognito_auth_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_cognito_auth_sessions_expires_at", table_name="cognito_auth_sessions")
    op.drop_table("cognito_auth_sessions")
    op.drop_table("srp_verifiers")
