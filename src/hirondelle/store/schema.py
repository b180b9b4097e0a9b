"""Every table of the store, in SQLAlchemy Core.

Times are stored as timezone-aware UTC. Money is whole credits (integers). Public identifiers
(campaign ids, smsIds) are UUID strings like allmysms's; tables join on integer keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


def as_utc(value: datetime | str) -> datetime:
    """A stored moment as aware UTC. SQLite keeps no time zone (its rows come back naive, or as
    the text the driver stored when read at driver level); PostgreSQL answers in its session's
    zone. Every moment the store writes is UTC, so a naive one is UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A moment, written as UTC and read back as aware UTC on every database: SQLite's quirks
    end here, not in the services."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


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
    # May another account make itself this one's sub-account with sendSms's MASTERACCOUNT?
    # The master's consent, off unless its operator turns it on (`hirondelle accounts set`).
    sa.Column("accepts_masteraccount", sa.Boolean, nullable=False, server_default=sa.false()),
    # A number of its own (a dedicated short code or long number): its messages are sent from it
    # when no custom sender applies, and every reply written to it reaches this account
    # (docs/operations.md, "Reply routing"). NULL: the platform's shared default sender.
    sa.Column("reply_number", sa.String(21), nullable=True, unique=True),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Paris"),
    # French sending hours: every campaign is commercial (its messages to French numbers leave
    # only inside `sending_window`, never on a public holiday); a campaign's COMMERCIAL flag
    # does the same for that campaign alone. `hirondelle accounts set --commercial-hours`.
    sa.Column("commercial_hours", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "sending_window", sa.String(64), nullable=False, server_default="Mon-Sat 08:00-20:00"
    ),
    # The SMPP server for customers (docs/smpp-server.md): the argon2 hash of the SMPP password
    # (NULL: SMPP not enabled, and no receipt or reply is kept for an SMPP receiver), and how
    # many binds the account may hold at once (NULL: the smpp_server_max_binds setting).
    sa.Column("smpp_password_hash", sa.String(255), nullable=True),
    sa.Column("smpp_max_binds", sa.SmallInteger, nullable=True),
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
    # Webhooks (manual §5.3, §6.5, §8.3...): where receipts and replies are pushed, and the key
    # that signs them.
    sa.Column("receipt_url", sa.String(2048), nullable=False, server_default=""),
    sa.Column("reply_url", sa.String(2048), nullable=False, server_default=""),
    # sealed under secret_key (domain/sealed.py): "s1." + base64url, 238 characters at most
    sa.Column("webhook_secret", sa.String(255), nullable=False, server_default=""),
    # Which receipts are pushed: `all` status changes (the manual) or `final` ones only (as
    # Kannel's dlr-mask 3); and up to how many events one JSON POST carries (0: a GET per event).
    sa.Column("receipt_events", sa.String(8), nullable=False, server_default="all"),
    sa.Column("webhook_batch", sa.SmallInteger, nullable=False, server_default="0"),
    # Throughput limits (services/access.py, `hirondelle accounts limits`); NULL: unlimited.
    sa.Column("messages_per_second", sa.Integer, nullable=True),
    sa.Column("requests_per_second", sa.Integer, nullable=True),
    # Raised with every change of its rows in `allowed_networks`; 0: it never had any. Read with
    # the account at each authentication, it tells every process when its cached list is stale.
    sa.Column("allowlist_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("postpaid OR balance >= 0", name="prepaid_balance_not_negative"),
)

#: The IP allow-list of an account: the addresses and CIDR ranges (canonical text, IPv4 or IPv6)
#: its API calls and SMPP binds may come from. No row: from anywhere.
allowed_networks = sa.Table(
    "allowed_networks",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("network", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    # topup | debit | refund | cancel | transfer_in | transfer_out | adjustment
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ledger_account", "account_id", "id"),
    # A deleted campaign's refund (kind `cancel`, reference its campaign id) happens once, ever.
    # Other kinds may repeat a reference (an email campaign's per-message `refund` rows).
    sa.Index(
        "ux_ledger_cancel",
        "reference",
        unique=True,
        sqlite_where=sa.text("kind = 'cancel'"),
        postgresql_where=sa.text("kind = 'cancel'"),
    ),
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
    # Sent by a submit_sm asking for a receipt (registered_delivery): the final status of its
    # message goes back to the customer's SMPP receiver too (smpp_deliveries).
    sa.Column("smpp_receipts", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_campaigns_account", "account_id", "id"),
)

#: Messages not submitted yet (the rows `ix_messages_expiry` holds).
WAITING = "state IN ('queued', 'claimed')"

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
    # Not submitted by then (throttled, no answer, no connector): status 4, refunded. Set from
    # the first due_at (message_validity_hours), not moved by retries.
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("claimed_by", sa.String(36), nullable=True),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("connector", sa.String(64), nullable=True),
    sa.Column("parts_done", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("status_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_messages_campaign", "campaign_id", "id"),
    # With `id`, the claim's ORDER BY due_at, id reads the first rows of the index and stops:
    # without it, PostgreSQL sorted every queued message of a campaign (they share their
    # due_at) at each claim — 41 ms, spilling to disk, for 100,000 queued.
    sa.Index("ix_messages_due", "state", "due_at", "id"),
    # Partial: a message leaves it once submitted, so it stays the size of the backlog.
    sa.Index(
        "ix_messages_expiry",
        "expires_at",
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    ),
    sa.Index("ix_messages_phone", "phone", "id"),
)

#: What the customer area counts instead of scanning messages (store/traffic.py): per campaign
#: and per UTC hour (hours since the epoch) of the event, how many messages were accepted,
#: submitted, came back delivered / not delivered / rejected / unknown number (receipts),
#: were refused before any SMSC took them (rejected at submit or past their validity, refunded),
#: or were cancelled with their campaign; the replies received; the credits spent (debits less
#: refunds). Written in the transactions that change them, one upsert per campaign and hour.
#: Replies that answer no campaign count under campaign_id 0, and every account has its own rows
#: under campaign_id -1, the sums of all of them (hence no foreign key).
traffic_counts = sa.Table(
    "traffic_counts",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hour", sa.Integer, primary_key=True, autoincrement=False),
    *(
        sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
        for name in (
            "accepted",
            "submitted",
            "delivered",
            "not_delivered",
            "rejected",
            "unknown",
            "refused",
            "cancelled",
            "replies",
            "credits",
        )
    ),
)

#: Recipients imported in the customer area's send page (services/web_sending.py), kept between
#: the preview and the confirmation: `payload` is the order as JSON. Its `token` is the form's
#: nonce, and the send's idempotency key. Drafts older than a day are deleted at the next import.
send_drafts = sa.Table(
    "send_drafts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_send_drafts_account", "account_id", "created_at"),
)

# What the retention purge (store/retention.py) deleted, counted: a campaign's statistics and
# the per-day figures outlive its messages.
purged_counts = sa.Table(
    "purged_counts",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),  # UTC day the messages were created
    sa.Column("state", sa.String(12), primary_key=True),
    sa.Column("status", sa.SmallInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
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
    # Not unique: SMSCs reuse ids (counters that wrap, restarts); the latest holder of an id
    # gets its receipts (services/delivery.py, apply_receipts).
    sa.Index("ix_message_parts_smsc_id", "connector", "smsc_id"),
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
    sa.Index("ix_blacklist_account_id", "account_id", "id"),  # the customer area's pages
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

# --- delivery: status history, receipts, replies, webhook outbox ---

# Every status a message went through, with its time (the customer area shows it).
message_events = sa.Table(
    "message_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("detail", sa.String(255), nullable=False, server_default=""),
    sa.Column("at", UtcDateTime, nullable=False),
)

# Submit outcomes made durable before their window slots are freed (see
# dispatch/journal.py): a row per batch, removed when the batch is stored in full.
submit_journal = sa.Table(
    "submit_journal",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("written_at", UtcDateTime, nullable=False),
    # JSON: [[message_id, connector, [smsc_id, …]], …]
    sa.Column("results", sa.Text, nullable=False),
)

# A receipt that matched no part it may change (it arrived before the submit_sm_resp of its
# message was stored, or its id's latest holder already has its own receipt): kept (so it can be
# acknowledged) and applied as soon as a submit brings its id, for receipt_retention_hours.
pending_receipts = sa.Table(
    "pending_receipts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("smsc_id", sa.String(64), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("detail", sa.String(255), nullable=False, server_default=""),
    sa.Column("received_at", UtcDateTime, nullable=False),
    # When the stale sweep looks at it next (a geometric back-off); dropped after the retention.
    sa.Column("retry_at", UtcDateTime, nullable=False),
    sa.Index("ix_pending_receipts_id", "connector", "smsc_id"),
    sa.Index("ix_pending_receipts_retry_at", "retry_at"),
    sa.Index("ix_pending_receipts_received_at", "received_at"),
)

# Parts of a concatenated reply, each persisted before it is acknowledged.
inbound_parts = sa.Table(
    "inbound_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("source", sa.String(21), nullable=False),
    sa.Column("reference", sa.Integer, nullable=False),
    sa.Column("total", sa.SmallInteger, nullable=False),
    sa.Column("seqnum", sa.SmallInteger, nullable=False),
    sa.Column("destination", sa.String(21), nullable=False),
    sa.Column("data_coding", sa.SmallInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("ix_inbound_parts_key", "connector", "source", "reference"),
)

replies = sa.Table(
    "replies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    # The account of the message replied to; NULL when no message to that number is known.
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=True),
    sa.Column("phone", sa.String(21), nullable=False),
    sa.Column("short_code", sa.String(21), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("keyword", sa.String(8), nullable=True),
    sa.Column("pulled_at", UtcDateTime, nullable=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("ix_replies_account", "account_id", "pulled_at", "id"),
    sa.Index("ix_replies_message", "message_id"),
    # The customer area's inbox: newest first, and one number's replies.
    sa.Index("ix_replies_account_id", "account_id", "id"),
    sa.Index("ix_replies_account_phone", "account_id", "phone", "id"),
)

# The durable outbox of webhook calls, written in the same transaction as what they report.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    # receipt | reply
    sa.Column("kind", sa.String(8), nullable=False),
    # Events of one message are delivered in id order: never "delivered" before "transmitted".
    sa.Column("ordering_key", sa.String(64), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    # scheme://host:port of the URL: concurrency and the circuit breaker are per destination.
    sa.Column("destination", sa.String(300), nullable=False, server_default=""),
    sa.Column("params", sa.Text, nullable=False),  # JSON object of the GET query parameters
    # pending | done | dead
    sa.Column("state", sa.String(8), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_webhook_events_due", "state", "next_attempt_at", "id"),
    sa.Index("ix_webhook_events_order", "ordering_key", "state", "id"),
    sa.Index("ix_webhook_events_account", "account_id", "id"),  # an account's last deliveries
)

# The SMPP server's outbox (docs/smpp-server.md): receipts and replies for customers' SMPP
# receivers, written in the same transaction as the status or the reply they report, deleted
# once a receiver of the account answered its deliver_sm, dropped after
# smpp_server_delivery_hours.
smpp_deliveries = sa.Table(
    "smpp_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    # receipt | reply
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("sms_id", sa.String(36), nullable=False, server_default=""),  # receipts
    # deliver_sm source_addr (the handset) and destination_addr (sender or short code)
    sa.Column("source", sa.String(21), nullable=False),
    sa.Column("destination", sa.String(21), nullable=False),
    # a reply's text; a receipt's `text:` (the message's first 20 characters)
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False, server_default="0"),  # annex 6
    sa.Column("submitted_at", UtcDateTime, nullable=True),  # receipts: the message's creation
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_smpp_deliveries_account", "account_id", "id"),
    sa.Index("ix_smpp_deliveries_created", "created_at"),
)

# --- sub-accounts and contact lists ---

# Emails asked for by createSubAccount (SENDEMAILTOCUSTOMER / SENDEMAILTOMASTERACCOUNT), waiting
# for the email sender. Never a password: when sent, the customer's email carries a set-password
# link whose token is generated then (only its digest will be stored here).
pending_emails = sa.Table(
    "pending_emails",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    # subaccount_to_customer | subaccount_to_master
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("to_address", sa.String(255), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=True),
    # pending | sent | failed
    sa.Column("state", sa.String(12), nullable=False, server_default="pending"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
)

contact_lists = sa.Table(
    "contact_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("account_id", "name", name="uq_contact_lists_account_name"),
)

list_fields = sa.Table(
    "list_fields",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("contact_lists.id"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("filter", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mailing", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("list_id", "name", name="uq_list_fields_list_name"),
)

# A contact's field values are one JSON object (field name -> text); see store/lists.py.
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list_id", sa.Integer, sa.ForeignKey("contact_lists.id"), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("fields", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("list_id", "phone", name="uq_contacts_list_phone"),
    sa.Index("ix_contacts_list_id", "list_id", "id"),  # a list's contacts, paged
)

# --- short links and email ---

short_links = sa.Table(
    "short_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    # Set for the links of an SMS (SHORTEN=1): clicks are attributed to the campaign's recipient.
    sa.Column("campaign_public_id", sa.String(36), nullable=True),
    sa.Column("phone", sa.String(20), nullable=True),
    sa.Column("clicks", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_click_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_short_links_account", "account_id", "id"),
    sa.Index("ix_short_links_campaign", "campaign_public_id"),
)

link_clicks = sa.Table(
    "link_clicks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("link_id", sa.Integer, sa.ForeignKey("short_links.id"), nullable=False),
    # mobile | desktop | bot | other
    sa.Column("agent_class", sa.String(8), nullable=False),
    sa.Column("clicked_at", UtcDateTime, nullable=False),
    sa.Index("ix_link_clicks_link", "link_id", "id"),
)

email_campaigns = sa.Table(
    "email_campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    # None for the platform's own notifications.
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=True),
    # api | notification
    sa.Column("kind", sa.String(16), nullable=False, server_default="api"),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False, server_default=""),
    sa.Column("reply_to", sa.String(320), nullable=False, server_default=""),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    # scheduled | queued
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("nb_emails", sa.Integer, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_email_campaigns_account", "account_id", "id"),
)

emails = sa.Table(
    "emails",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("email_campaigns.id"), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("credits", sa.Integer, nullable=False, server_default="0"),
    # queued | claimed | sent | rejected (refused by the relay) | failed (gave up retrying)
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    # The relay's answer (code and text) or the local error, for the customer area.
    sa.Column("detail", sa.String(512), nullable=False, server_default=""),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_emails_campaign", "campaign_id", "id"),
    sa.Index("ix_emails_due", "state", "due_at"),
)

#: Single-use links that let a new sub-account choose its password (only the HMAC of the token
#: is kept: a copy of the database opens no account).
password_tokens = sa.Table(
    "password_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True),
)

#: The last state of each SMPP connector, written every few seconds by the process that runs it
#: (workers.py), so that the operators' area of any process shows every connector.
connector_status = sa.Table(
    "connector_status",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("process", sa.String(64), nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # JSON object of services.operator's fields
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

#: Platform administrators (the operators' area, /admin/): not customer accounts, no API key.
admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

#: Signed-in sessions (DESIGN.md §7): the cookie holds a random id, the store only its SHA-256
#: digest, so a copy of the database signs no one in. Signing out deletes the row. `kind` says
#: whose: a customer's (`account_id`) or an administrator's (`admin_id`); a session of one kind
#: never opens the pages of the other.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("id_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(8), nullable=False, server_default="customer"),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=True, index=True),
    sa.Column("admin_id", sa.Integer, sa.ForeignKey("admins.id"), nullable=True, index=True),
    # The key of the session's form tokens (web/csrf.py), random per session.
    sa.Column("csrf_secret", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Index("ix_web_sessions_last_seen", "last_seen_at"),
)
