"""OAuth 2.0 / OIDC: authorization codes, consents, browser sessions, revoked and opaque tokens.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opaque_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=64), nullable=True),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_opaque_tokens")),
    )
    op.create_index("ix_opaque_tokens_jti", "opaque_tokens", ["jti"], unique=False)
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_index("ix_revoked_tokens_revoked_at", "revoked_tokens", ["revoked_at"], unique=False)
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("auth_time", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.Column("family_id", sa.String(length=64), nullable=True),
        sa.Column("access_jti", sa.String(length=64), nullable=True),
        sa.Column("access_expires_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sub"],
            ["users.sub"],
            name=op.f("fk_authorization_codes_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_codes")),
    )
    op.create_table(
        "browser_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("auth_time", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_browser_sessions_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_browser_sessions")),
    )
    op.create_index("ix_browser_sessions_sub", "browser_sessions", ["sub"], unique=False)
    op.create_table(
        "consents",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_consents_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sub", "client_id", name=op.f("pk_consents")),
    )


def downgrade() -> None:
    op.drop_table("consents")
    op.drop_index("ix_browser_sessions_sub", table_name="browser_sessions")
    op.drop_table("browser_sessions")
    op.drop_table("authorization_codes")
    op.drop_index("ix_revoked_tokens_revoked_at", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_index("ix_opaque_tokens_jti", table_name="opaque_tokens")
    op.drop_table("opaque_tokens")
