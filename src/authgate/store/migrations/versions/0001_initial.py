"""Initial schema: users, groups, clients, keys, codes, refresh tokens, audit.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_event", "audit_events", ["event"], unique=False)
    op.create_index("ix_audit_events_sub", "audit_events", ["sub"], unique=False)
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_name", sa.String(length=256), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_clients")),
    )
    op.create_table(
        "groups",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_groups")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=128), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("private_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=True),
        sa.Column("verify_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "users",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("pending_email", sa.String(length=320), nullable=True),
        sa.Column("tokens_valid_after", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sub", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=False)
    op.create_table(
        "group_members",
        sa.Column("group_name", sa.String(length=128), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_name"],
            ["groups.name"],
            name=op.f("fk_group_members_group_name_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_group_members_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_name", "sub", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_sub", "group_members", ["sub"], unique=False)
    op.create_table(
        "one_time_codes",
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("attempts_left", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_one_time_codes_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sub", "purpose", name=op.f("pk_one_time_codes")),
    )
    op.create_table(
        "refresh_families",
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("auth_time", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sub"], ["users.sub"], name=op.f("fk_refresh_families_sub_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_refresh_families")),
    )
    op.create_index("ix_refresh_families_sub", "refresh_families", ["sub"], unique=False)
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("spent_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["refresh_families.family_id"],
            name=op.f("fk_refresh_tokens_family_id_refresh_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_tokens")),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_family_id", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("ix_refresh_families_sub", table_name="refresh_families")
    op.drop_table("refresh_families")
    op.drop_table("one_time_codes")
    op.drop_index("ix_group_members_sub", table_name="group_members")
    op.drop_table("group_members")
    op.drop_index(op.f("ix_users_email"), table_name="users")
    op.drop_table("users")
    op.drop_table("signing_keys")
    op.drop_table("groups")
    op.drop_table("clients")
    op.drop_index("ix_audit_events_sub", table_name="audit_events")
    op.drop_index("ix_audit_events_event", table_name="audit_events")
    op.drop_table("audit_events")
