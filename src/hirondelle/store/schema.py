"""Every table of the store, in SQLAlchemy Core.

Times are stored as timezone-aware UTC. Money is whole credits (integers). Public identifiers
(campaign ids, smsIds) are UUID strings like allmysms's; tables join on integer keys.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

UtcDateTime = sa.DateTime(timezone=True)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("api_key_digest", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("role", sa.String(16), nullable=False, server_default="customer"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("postpaid", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=True, index=True),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Paris"),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("profile", sa.String(255), nullable=False, server_default=""),
    # Identity, contact and billing fields of manual §16.
    *(
        sa.Column(name, sa.String(255), nullable=False, server_default="")
        for name in (
            "first_name",
            "last_name",
            "society",
            "email",
            "mobile",
            "phone",
            "website",
            "address",
            "zip",
            "city",
            "country",
            "bill_first_name",
            "bill_last_name",
            "bill_society",
            "bill_address",
            "bill_zip",
            "bill_city",
            "bill_country",
            "bill_email",
            "bill_mobile",
            "bill_phone",
        )
    ),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("postpaid OR balance >= 0", name="prepaid_balance_not_negative"),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    # topup | debit | refund | transfer_in | transfer_out | adjustment
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ledger_account", "account_id", "id"),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("sender", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False, server_default="sms"),
    # scheduled | queued | deleted
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("nb_contacts", sa.Integer, nullable=False),
    sa.Column("nb_sms", sa.Integer, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("mail_notif", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_campaigns_account", "account_id", "id"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sms_id", sa.String(36), nullable=False, unique=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sender", sa.String(16), nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("credits", sa.Integer, nullable=False),
    sa.Column("cli_msg_id", sa.String(255), nullable=True),
    # Annex 6 status once known (3 transmitted, 1, 2, 4, 5); 0 while waiting to be submitted.
    sa.Column("status", sa.SmallInteger, nullable=False, server_default="0"),
    # queued | claimed | submitted | final | cancelled
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("connector", sa.String(64), nullable=True),
    sa.Column("parts_done", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("status_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_messages_campaign", "campaign_id", "id"),
    sa.Index("ix_messages_due", "state", "due_at"),
    sa.Index("ix_messages_account_phone", "account_id", "phone", "id"),
)

# One row per SMPP part of a message: the SMSC's message id is what receipts refer to.
message_parts = sa.Table(
    "message_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("part", sa.SmallInteger, nullable=False),
    sa.Column("smsc_id", sa.String(64), nullable=False),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False, server_default="3"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("connector", "smsc_id", name="uq_message_parts_smsc_id"),
)

blacklist = sa.Table(
    "blacklist",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    # stop | refused | manual
    sa.Column("comment", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("account_id", "phone", name="uq_blacklist_account_phone"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("answer", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
