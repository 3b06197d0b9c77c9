"""Identities at external OpenID Providers, and the sign-ins there in progress.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federated_identities",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("linked_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sub"],
            ["users.sub"],
            name=op.f("fk_federated_identities_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider", "subject", name=op.f("pk_federated_identities")),
    )
    op.create_index(
        "ix_federated_identities_sub_provider",
        "federated_identities",
        ["sub", "provider"],
        unique=True,
    )
    op.create_table(
        "federation_transactions",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("link_sub", sa.String(length=36), nullable=True),
        sa.Column("ticket", sa.Text(), nullable=True),
        sa.Column("return_to", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_sub"],
            ["users.sub"],
            name=op.f("fk_federation_transactions_link_sub_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_federation_transactions")),
    )
    op.create_index(
        "ix_federation_transactions_expires_at", "federation_transactions", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_federation_transactions_expires_at", table_name="federation_transactions")
    op.drop_table("federation_transactions")
    op.drop_index("ix_federated_identities_sub_provider", table_name="federated_identities")
    op.drop_table("federated_identities")
