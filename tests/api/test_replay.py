"""Dry-run replay of 1,000 events against the demo tenant: the would-be
effects come back, and no table of the database changes."""
import os
import random
import sqlite3

import pytest
import requests

from conftest import Api, OpenApi, Server, REPO_DATA, parse_admin
from helpers import assert_problem
from pack_helpers import PACKS_DIR, upload, zip_pack, folder_files


def row_counts(db_path):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL%'")]      # the FTS index counts by its shadow tables
    counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    db.close()
    return counts


@pytest.fixture(scope="module")
def demo(workdir):
    s = Server(os.path.join(workdir, "replay-demo"), extra_args=["--rate-limit", "0"])
    os.makedirs(s.workdir)
    out = s.cli("demo", "--data", REPO_DATA, "--packs", PACKS_DIR, timeout=600).stdout
    s.tenants = {"demo": parse_admin(out)}
    s.start()
    s.openapi = OpenApi(requests.get(s.base + "/api/v1/openapi.json").json())
    s.api = Api(s.base, s.tenants["demo"]["key"], s.openapi)
    yield s
    s.stop()


def ids(api, path, n):
    r = api.get(f"{path}?limit=200")
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["data"]][:n]


def test_demo_has_the_example_packs_as_drafts(demo):
    packs = {p["name"]: p for p in demo.api.get("/api/v1/packs").json()["data"]}
    assert set(packs) >= {"ticket-router", "deal-followup"}
    assert all(p["status"] == "draft" for p in packs.values())


def test_replay_1000_events_changes_nothing(demo):
    api = demo.api
    pack = [p for p in api.get("/api/v1/packs").json()["data"] if p["name"] == "deal-followup"][0]
    page = api.get("/api/v1/deals?limit=200&stage=engaging").json()["data"]
    deals = [d["id"] for d in page]
    customers = sorted({d["customer_id"] for d in page if d["customer_id"]})
    assert len(customers) > 20
    rnd = random.Random(42)
    events = []
    for i in range(1000):
        k = i % 5
        if k in (0, 1):
            events.append({"type": "activities.created",
                           "record": {"kind": "email", "direction": "inbound",
                                      "customer_id": rnd.choice(customers),
                                      "subject": f"Re: offer {i}", "body": "When can we meet?"}})
        elif k == 2:
            events.append({"type": "deals.stage_changed", "id": rnd.choice(deals),
                           "stage": rnd.choice(["won", "lost", "engaging"])})
        elif k == 3:
            events.append({"type": "tickets.created",
                           "record": {"subject": f"Replay ticket {i}", "priority": "low"}})
        else:
            events.append({"type": "customers.updated", "id": rnd.choice(customers),
                           "changes": {"tier": rnd.choice(["A", "B", "C"])}})
    before = row_counts(demo.db)
    verify_before = api.get("/api/v1/audit/verify").json()
    r = api.post(f"/api/v1/packs/{pack['id']}/versions/1.0.0/replay", {"events": events})
    assert r.status_code == 200, r.text[:1000]
    report = r.json()
    after = row_counts(demo.db)
    assert after == before, {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert api.get("/api/v1/audit/verify").json() == verify_before

    s = report["summary"]
    assert report["dry_run"] is True and report["truncated"] is False
    assert s["events"] == 1000
    assert s["writes_ok"] + s["writes_failed"] + s["writes_rejected"] == 1000
    assert s["writes_ok"] >= 990, s
    assert s["runs"]["ok"] >= 400, s                      # inbound e-mails and stage changes
    assert s["effects"]["update"] > 0 and s["effects"]["task"] > 0, s
    first = report["events"][0]
    assert first["type"] == "activities.created" and first["write"]["ok"] is True
    run = first["runs"][0]
    assert run["fn"] == "followup.on_reply" and run["phase"] == "after"
    updates = [e for e in run["effects"] if e["effect"] == "update"]
    assert all(e["object"] == "deals" and "follow_up_date" in e["changes"] for e in updates)
    closing = [e for e in report["events"] if e["type"] == "deals.stage_changed"
               and e["write"]["ok"] and e["write"]["record"]["stage"] in ("won", "lost")]
    assert closing and all(e["write"]["record"]["follow_up_date"] is None for e in closing)

    # nothing of it is real
    rid = first["write"]["id"]
    assert_problem(api.get(f"/api/v1/activities/{rid}"), 404)


def test_replay_input_errors(demo):
    api = demo.api
    pack = [p for p in api.get("/api/v1/packs").json()["data"] if p["name"] == "deal-followup"][0]
    url = f"/api/v1/packs/{pack['id']}/versions/1.0.0/replay"
    assert_problem(api.post(url, []), 422, "no-events")
    assert_problem(api.post(url, [{"type": "deals.exploded", "id": "x"}]), 422, "invalid-event",
                   "/events/0/type")
    assert_problem(api.post(url, [{"type": "deals.updated"}]), 422, "invalid-event",
                   "/events/0/id")
    assert_problem(api.post(url, [{"type": "deals.created", "record": {}, "extra": 1}]), 422,
                   "invalid-event", "/events/0/extra")
    r = api.request("POST", url, data=b'{"type":"tickets.created","record":{"subject":"a"}}\n'
                                      b'{"type":"tickets.created","record":{"subject":"b"}}\n',
                    headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["events"] == 2
    r = api.post(url + "?detail=summary", [{"type": "tickets.created", "record": {"subject": "a"}}])
    assert r.status_code == 200 and "events" not in r.json()
    bad = api.post(url, [{"type": "tickets.created", "record": {"subject": 5}}])
    assert bad.status_code == 200
    w = bad.json()["events"][0]["write"]
    assert w["ok"] is False and w["status"] == 422

