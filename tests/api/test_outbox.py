"""After handlers run from the durable outbox: at least once, retried with
backoff, their effects committed exactly once, dead-lettered when they
keep failing; schedules fire."""
import sqlite3

import pytest

from conftest import Api, unique
from helpers import assert_problem
from pack_helpers import manifest, zip_pack, upload, publish, wait_for, deliveries

FLAKY = """local M = {}

function M.flaky(event)
  axon.notes.add({ deal_id = event.record.id, subject = "attempt " .. event.attempt,
                   body = event.id })
  if event.attempt < 3 then
    error("not yet (attempt " .. event.attempt .. ")")
  end
end

function M.broken(event)
  error("always broken for " .. event.record.name)
end

function M.tick(event)
  axon.notes.add({ subject = "tick", body = event.type })
end

return M
"""


@pytest.fixture(scope="module")
def outbox_server(workdir):
    from conftest import Server, new_tenant, OpenApi
    import os, requests
    s = Server(os.path.join(workdir, "outbox"),
               extra_args=["--rate-limit", "0", "--retry-ms", "50", "--attempts", "3"])
    os.makedirs(s.workdir)
    s.tenants = {"alpha": new_tenant(s, "alpha")}
    s.start()
    s.openapi = OpenApi(requests.get(s.base + "/api/v1/openapi.json").json())
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    v = upload(api, zip_pack({
        "pack.lua": manifest("outbox", "1.0.0", ["deals:read", "activities:write"],
                             [("deals.created", "after", "f.flaky"),
                              ("customers.created", "after", "f.broken")],
                             extra='schedules = { { every = "1m", fn = "f.tick" } },'),
        "f.lua": FLAKY}))
    publish(api, v["pack_id"], "1.0.0")
    s.api, s.pack = api, v
    yield s
    s.stop()


def test_fails_twice_then_succeeds_exactly_once(outbox_server):
    api, pack = outbox_server.api, outbox_server.pack
    deal = api.create("deals", {"name": unique("deal")})

    def done():
        mine = [d for d in deliveries(api, pack["pack_id"]) if d["record_id"] == deal["id"]]
        return mine if mine and mine[0]["status"] == "done" else None
    d = wait_for(done, what="the delivery to succeed")[0]
    assert d["attempts"] == 3
    notes = api.get(f"/api/v1/activities?deal_id={deal['id']}").json()["data"]
    assert [n["subject"] for n in notes] == ["attempt 3"]        # failed attempts left nothing
    assert notes[0]["body"] == d["event_id"]                      # the event id, for idempotency
    def three_runs():
        runs = api.get(f"/api/v1/packs/{pack['pack_id']}/runs?limit=500").json()["data"]
        mine = [r for r in runs if r["delivery_id"] == d["id"]]
        return mine if len(mine) == 3 else None
    mine = wait_for(three_runs, what="three runs in the log")
    assert sorted(r["outcome"] for r in mine) == ["error", "error", "ok"]
    assert any("not yet (attempt 1)" in (r["error"] or "") for r in mine)
    assert_problem(api.post(f"/api/v1/deliveries/{d['id']}/retry"), 409, "not-dead")


def test_always_failing_lands_in_dead_letters(outbox_server):
    api, pack = outbox_server.api, outbox_server.pack
    name = unique("cust")
    c = api.create("customers", {"name": name})

    def dead():
        rows = api.get("/api/v1/deliveries?status=dead").json()["data"]
        return [d for d in rows if d["record_id"] == c["id"]]
    d = wait_for(dead, what="a dead letter")[0]
    assert d["attempts"] == 3
    assert d["fn"] == "f.broken"
    assert d["last_error"] == f"f.lua:12: always broken for {name}"
    # put it back: it runs (and fails) again
    r = api.post(f"/api/v1/deliveries/{d['id']}/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending"
    wait_for(lambda: dead() and dead()[0]["attempts"] == 3 and dead()[0]["status"] == "dead",
             what="the retried delivery to die again")
    assert_problem(api.post(f"/api/v1/deliveries/{d['id']}x/retry"), 404)


def test_schedule_fires(outbox_server):
    api, pack = outbox_server.api, outbox_server.pack
    # Let a minute pass for the schedule: move its next time to the past.
    db = sqlite3.connect(outbox_server.db, timeout=10)
    db.execute("UPDATE pack_schedules SET next_at = 0")
    db.commit()
    db.close()
    notes = wait_for(lambda: api.get("/api/v1/activities?kind=note").json()["data"] and
                     [n for n in api.get("/api/v1/activities?kind=note").json()["data"]
                      if n["subject"] == "tick"], what="the scheduled run")
    assert notes[0]["body"] == "schedule"
    db = sqlite3.connect(outbox_server.db, timeout=10)
    next_at = db.execute("SELECT next_at FROM pack_schedules").fetchone()[0]
    db.close()
    import time
    assert next_at > time.time() * 1000 + 50_000               # about a minute from now


def test_pending_deliveries_survive_kill_9(outbox_server):
    s, pack = outbox_server, outbox_server.pack
    deal = s.api.create("deals", {"name": unique("deal")})   # acknowledged: its delivery is queued
    s.kill9()                                                   # before it can have finished
    s.start()
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    s.api = api
    d = wait_for(lambda: [d for d in deliveries(api, pack["pack_id"], "done")
                          if d["record_id"] == deal["id"]], what="the delivery after restart")[0]
    assert d["attempts"] == 3
    notes = api.get(f"/api/v1/activities?deal_id={deal['id']}").json()["data"]
    assert [n["subject"] for n in notes] == ["attempt 3"]


def test_rollback_skips_the_old_versions_queued_work(make_server):
    s = make_server("--rate-limit", "0", "--retry-ms", "3000")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    v1 = upload(api, zip_pack({
        "pack.lua": manifest("rb", "1.0.0", ["deals:read", "activities:write"],
                             [("deals.created", "after", "f.flaky")]),
        "f.lua": FLAKY}))
    publish(api, v1["pack_id"], "1.0.0")
    # 2.0.0 fails every time; roll back while its delivery waits for a retry
    upload(api, zip_pack({
        "pack.lua": manifest("rb", "2.0.0", ["deals:read", "activities:write"],
                             [("deals.created", "after", "f.broken")]),
        "f.lua": FLAKY.replace('error("always broken for " .. event.record.name)',
                               'axon.notes.add({ deal_id = event.record.id, subject = "v2" }) '
                               'error("v2 is broken")')}))
    publish(api, v1["pack_id"], "2.0.0")
    deal = api.create("deals", {"name": unique("deal")})
    wait_for(lambda: [d for d in deliveries(api, v1["pack_id"])
                      if d["record_id"] == deal["id"] and d["attempts"] == 1],
             what="a first failed attempt")
    r = api.post(f"/api/v1/packs/{v1['pack_id']}/rollback")
    assert r.status_code == 200 and r.json()["published_version"] == "1.0.0"
    d = wait_for(lambda: [d for d in deliveries(api, v1["pack_id"], "skipped")
                          if d["record_id"] == deal["id"]], what="the skipped delivery")[0]
    assert "rolled back" in d["last_error"]
    assert d["attempts"] == 1
    assert api.get(f"/api/v1/activities?deal_id={deal['id']}").json()["data"] == []
