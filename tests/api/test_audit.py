"""The audit trail: one row per change with who, from where, why and what;
the hash chain verifies and names the first broken row after tampering."""
import subprocess

from conftest import Api, unique
from helpers import add_user, extra_tenant, get_json, sign_in


def rows_for(api, object_id):
    return [e for e in get_json(api, "/api/v1/audit?limit=200")["data"] if e["object_id"] == object_id]


def test_create_update_delete_write_one_row_each(server):
    t, api = extra_tenant(server, "audit")
    actor = "key_" + t["key"].split("_")[1]
    start = get_json(api, "/api/v1/audit/verify")["rows"]
    h = {"X-Source-System": "erp-sap", "X-Request-Id": unique("rq")}
    r = api.post("/api/v1/customers", {"name": "Audited", "tier": "A", "revenue": 3}, headers=h)
    c = r.json()
    create_rid = h["X-Request-Id"]
    h2 = {"X-Source-System": "crm-sync", "X-Request-Id": unique("rq")}
    api.patch(f"/api/v1/customers/{c['id']}", {"tier": "B", "revenue": 3, "attrs": {}}, headers=h2)
    api.patch(f"/api/v1/customers/{c['id']}", {"tier": "B"})          # no change: no row
    history = get_json(api, f"/api/v1/customers/{c['id']}/history")["data"]
    h3 = {"X-Request-Id": unique("rq")}
    assert api.delete(f"/api/v1/customers/{c['id']}", headers=h3).status_code == 204

    rows = rows_for(api, c["id"])
    assert [e["action"] for e in rows] == ["delete", "update", "create"]
    delete, update, create = rows
    assert create["object"] == "customers" and create["actor_type"] == "api_key"
    assert {e["actor_id"] for e in rows} == {actor}
    assert {e["trigger"] for e in rows} == {"api"}
    assert (create["source"], update["source"], delete["source"]) == ("erp-sap", "crm-sync", "api")
    assert (create["request_id"], update["request_id"], delete["request_id"]) == \
        (create_rid, h2["X-Request-Id"], h3["X-Request-Id"])
    assert create["changes"] == {"name": [None, "Audited"], "kind": [None, "company"],
                                 "tier": [None, "A"], "revenue": [None, 3]}
    assert update["changes"] == {"tier": ["A", "B"]}
    assert delete["changes"] == {"name": ["Audited", None], "kind": ["company", None],
                                 "tier": ["B", None], "revenue": [3, None]}
    assert [e["seq"] for e in history] == [update["seq"], create["seq"]]
    assert create["seq"] < update["seq"] < delete["seq"]
    v = get_json(api, "/api/v1/audit/verify")
    assert v == {"ok": True, "rows": start + 3, "head": v["head"]} and len(v["head"]) == 64


def test_every_object_type_is_audited(server):
    from helpers import OBJECTS, make, patch_for
    _, api = extra_tenant(server, "audit-all")
    for obj in OBJECTS:
        rec = make(api, obj, {"customers": make(api, "customers")} if obj != "customers" else {})
        api.patch(f"/api/v1/{obj}/{rec['id']}", patch_for(obj))
        api.delete(f"/api/v1/{obj}/{rec['id']}")
        rows = rows_for(api, rec["id"])
        assert [e["action"] for e in rows] == ["delete", "update", "create"], (obj, rows)
        assert {e["object"] for e in rows} == {obj}
    assert get_json(api, "/api/v1/audit/verify")["ok"] is True


def test_failed_writes_leave_no_row(server):
    _, api = extra_tenant(server, "audit-fail")
    before = get_json(api, "/api/v1/audit/verify")["rows"]
    c = api.create("customers", {"name": "x"})
    api.create("deals", {"name": "d", "customer_id": c["id"]})
    assert api.post("/api/v1/customers", {"name": None}).status_code == 422
    assert api.patch(f"/api/v1/customers/{c['id']}", {"tier": "A"}, headers={"If-Match": '"7"'}).status_code == 412
    assert api.delete(f"/api/v1/customers/{c['id']}").status_code == 409
    assert get_json(api, "/api/v1/audit/verify")["rows"] == before + 2


def test_session_user_and_source_web(server, alpha):
    u = add_user(alpha, "sales")
    api = sign_in(server, "alpha", u["email"], u["password"])
    c = api.create("customers", {"name": "from the browser"})
    row, = rows_for(alpha, c["id"])
    assert (row["actor_type"], row["actor_id"], row["source"]) == ("user", u["id"], "web")
    c2 = api.post("/api/v1/customers", {"name": "synced"}, headers={"X-Source-System": "hubspot"}).json()
    assert rows_for(alpha, c2["id"])[0]["source"] == "hubspot"


def test_audit_list_filters_and_pages(server):
    _, api = extra_tenant(server, "audit-pages")
    for i in range(7):
        api.create("units", {"name": f"u{i}"})
    units = get_json(api, "/api/v1/audit?object=units")["data"]
    assert len(units) == 7 and {e["object"] for e in units} == {"units"}
    page1 = get_json(api, "/api/v1/audit?limit=4")
    page2 = get_json(api, f"/api/v1/audit?limit=4&after={page1['next']}")
    seqs = [e["seq"] for e in page1["data"] + page2["data"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 8
    assert api.get("/api/v1/audit?object=nosuch").status_code == 400


def sqlite(db, sql):
    p = subprocess.run(["sqlite3", db, sql], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_tampering_is_detected(make_server):
    s = make_server("--rate-limit", "0")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    c = api.create("customers", {"name": "Honest Ltd", "revenue": 10})
    for i in range(5):
        api.patch(f"/api/v1/customers/{c['id']}", {"revenue": 11 + i})
    v = get_json(api, "/api/v1/audit/verify")
    assert v["ok"] is True
    rows = v["rows"]
    tenant = "(SELECT rid FROM tenants WHERE slug='alpha')"
    seq_of = {e["changes"].get("revenue", [None, None])[1]: e["seq"]
              for e in get_json(api, "/api/v1/audit?object=customers")["data"]}
    target = seq_of[13]          # the update that set revenue to 13
    s.stop()

    def verify():   # the restarted server listens on a new port
        return get_json(Api(s.base, s.tenants["alpha"]["key"], s.openapi), "/api/v1/audit/verify")


    # 1. rewrite what a change says
    original = sqlite(s.db, f"SELECT changes FROM audit WHERE tenant_id={tenant} AND seq={target}")
    assert original == '{"revenue":[12,13]}'
    sqlite(s.db, f"UPDATE audit SET changes='{{\"revenue\":[12,99]}}' WHERE tenant_id={tenant} AND seq={target}")
    s.start()
    v = verify()
    assert v["ok"] is False and v["rows"] == target
    assert v["first_broken"] == {"seq": target, "reason": "content does not match its hash"}
    s.stop()

    # 2. put it back: the chain verifies again (the check is on the content)
    sqlite(s.db, f"UPDATE audit SET changes='{original}' WHERE tenant_id={tenant} AND seq={target}")
    # 3. claim the row was redacted (erasure) while keeping false content
    sqlite(s.db, f"UPDATE audit SET redacted=1, changes='{{\"revenue\":[12,99]}}' "
                 f"WHERE tenant_id={tenant} AND seq={target}")
    s.start()
    v = verify()
    assert v["ok"] is False and v["first_broken"]["seq"] == target, \
        "a row marked redacted that still has (new) content must not verify"
    s.stop()
    sqlite(s.db, f"UPDATE audit SET redacted=0, changes='{original}' WHERE tenant_id={tenant} AND seq={target}")
    s.start()
    v = verify()
    assert v["ok"] is True and v["rows"] == rows
    s.stop()

    # 4. delete a row in the middle
    sqlite(s.db, f"DELETE FROM audit WHERE tenant_id={tenant} AND seq={target}")
    s.start()
    v = verify()
    assert v["ok"] is False
    assert v["first_broken"] == {"seq": target + 1, "reason": "missing or reordered row"}, \
        "the row after the gap is named"
    s.stop()

    # 5. change who did it, on another row
    sqlite(s.db, f"UPDATE audit SET actor_id='usr_someoneelse000000000' WHERE tenant_id={tenant} AND seq=2")
    s.start()
    v = verify()
    assert v["first_broken"] == {"seq": 2, "reason": "content does not match its hash"}
