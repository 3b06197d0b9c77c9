"""OAuth tightening: access-token jtis per refresh family, client keys, assertion replay.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Access-token jtis per refresh family; the refresh reuse interval's sealed successor.
    op.create_table(
        "issued_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"],
            ["users.sub"],
            name=op.f("fk_issued_access_tokens_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_issued_access_tokens")),
    )
    op.create_index("ix_issued_access_tokens_sub", "issued_access_tokens", ["sub"])
    op.create_index("ix_issued_access_tokens_family_id", "issued_access_tokens", ["family_id"])
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("successor_ciphertext", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("successor_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("successor_until")
        batch.drop_column("successor_ciphertext")
    op.drop_index("ix_issued_access_tokens_family_id", table_name="issued_access_tokens")
    op.drop_index("ix_issued_access_tokens_sub", table_name="issued_access_tokens")
    op.drop_table("issued_access_tokens")
