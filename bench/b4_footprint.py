"""B4 footprint: resident memory of `hirondelle serve` idle and with 1,000,000 messages stored;
time of getAcks on a 100,000-message campaign.

The million messages are written straight into the store (10 campaigns of 100,000) — the
benchmark is about holding them, not accepting them (B1 measures that).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import sqlalchemy as sa
from harness import base_env, create_account, report, server, tree_rss_mb, workdir

from hirondelle.store.engine import create_engine
from hirondelle.store.migrate import upgrade
from hirondelle.store.schema import campaigns, messages

CAMPAIGNS = 10
PER_CAMPAIGN = 100_000


def fill(url: str, account_id: int) -> str:
    engine = create_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    first_campaign = ""
    with engine.begin() as conn:
        for number in range(CAMPAIGNS):
            public_id = str(uuid.uuid4())
            first_campaign = first_campaign or public_id
            campaign_id = conn.execute(
                sa.insert(campaigns)
                .values(
                    public_id=public_id, account_id=account_id, message="Hello", sender="36180",
                    state="queued", due_at=now, nb_contacts=PER_CAMPAIGN, nb_sms=PER_CAMPAIGN,
                    credits=PER_CAMPAIGN * 15, created_at=now,
                )
                .returning(campaigns.c.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                sa.insert(messages),
                [
                    {
                        "sms_id": str(uuid.uuid4()),
                        "campaign_id": campaign_id,
                        "account_id": account_id,
                        "phone": f"336{number:02d}{i:06d}",
                        "country": "FR",
                        "text": "Hello",
                        "sender": "36180",
                        "parts": 1,
                        "credits": 15,
                        "status": 1,
                        "state": "final",
                        "due_at": now,
                        "expires_at": now,
                        "status_at": now,
                        "created_at": now,
                    }
                    for i in range(PER_CAMPAIGN)
                ],
            )
    engine.dispose()
    return first_campaign


def main() -> dict[str, object]:
    with workdir() as cwd:
        env = base_env(cwd)
        key = create_account(env, cwd, "bench", credits=1000)
        with server(env, cwd) as srv:
            time.sleep(2)
            idle = tree_rss_mb(srv.pid)
        campaign = fill(env["HIRONDELLE_DATABASE_URL"], account_id=1)
        with server(env, cwd) as srv:
            query = urlencode({"login": "bench", "apiKey": key, "campId": campaign})
            started = time.perf_counter()
            with urllib.request.urlopen(f"{srv.base_url}/http/9.0/getAcks?{query}") as answer:
                body = json.loads(answer.read())
            get_acks = time.perf_counter() - started
            loaded = tree_rss_mb(srv.pid)
        assert len(body["acks"]) == PER_CAMPAIGN, list(body)[:3]
    return report(
        "B4 footprint",
        {
            "rss_idle_mb": round(idle, 1),
            "rss_with_1m_messages_mb": round(loaded, 1),
            "get_acks_100k_seconds": round(get_acks, 2),
            "target": "< 250 MB, getAcks < 2 s",
        },
    )


if __name__ == "__main__":
    main()
