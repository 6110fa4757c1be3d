"""Many writers at once: no lost updates, every create gets its own id."""
import threading

from helpers import extra_tenant, get_json, run_threads

THREADS = 8
INCREMENTS = 12


def test_no_lost_updates_with_if_match(server):
    _, api = extra_tenant(server, "counter")
    c = api.create("customers", {"name": "counter", "employees": 0})
    url = f"/api/v1/customers/{c['id']}"
    done, conflicts = [0] * THREADS, [0] * THREADS

    def worker(i):
        while done[i] < INCREMENTS:
            r = api.get(url)
            assert r.status_code == 200
            cur = r.json()["employees"]
            p = api.patch(url, {"employees": cur + 1}, headers={"If-Match": r.headers["ETag"]})
            if p.status_code == 412:
                assert p.json()["type"] == "/problems/version-mismatch"
                conflicts[i] += 1
                continue
            assert p.status_code == 200, p.text
            assert p.json()["employees"] == cur + 1
            done[i] += 1

    run_threads(THREADS, worker)
    final = get_json(api, url)
    assert final["employees"] == sum(done) == THREADS * INCREMENTS
    assert final["version"] == 1 + THREADS * INCREMENTS
    assert sum(conflicts) > 0, "the threads never raced: the test proves nothing"
    history = []
    after = ""
    while True:
        page = get_json(api, f"{url}/history?limit=200{after}")
        history += page["data"]
        if not page["next"]:
            break
        after = f"&after={page['next']}"
    updates = [e["changes"]["employees"] for e in history if e["action"] == "update"]
    assert sorted(updates) == [[n, n + 1] for n in range(THREADS * INCREMENTS)]
    assert get_json(api, "/api/v1/audit/verify")["ok"] is True


def test_blind_concurrent_patches_all_apply(server):
    """Without If-Match, each PATCH still lands whole: every field one
    thread set is there at the end."""
    _, api = extra_tenant(server, "blind")
    c = api.create("customers", {"name": "blind"})
    fields = ["tier", "region", "country", "city", "sector", "phone", "website", "address"]

    def worker(i):
        for k in range(5):
            r = api.patch(f"/api/v1/customers/{c['id']}", {fields[i]: f"{fields[i]}-{k}"})
            assert r.status_code == 200

    run_threads(len(fields), worker)
    final = get_json(api, f"/api/v1/customers/{c['id']}")
    assert {f: final[f] for f in fields} == {f: f"{f}-4" for f in fields}
    assert final["version"] == 1 + 5 * len(fields)


def test_concurrent_creates_get_distinct_ids(server):
    _, api = extra_tenant(server, "creates")
    ids, lock = [], threading.Lock()

    def worker(i):
        for k in range(25):
            r = api.post("/api/v1/tickets", {"subject": f"t{i}-{k}"})
            assert r.status_code == 201, r.text
            with lock:
                ids.append(r.json()["id"])

    run_threads(THREADS, worker)
    assert len(ids) == len(set(ids)) == THREADS * 25
    listed = get_json(api, "/api/v1/tickets?count=true&limit=1")["total"]
    assert listed == THREADS * 25
    v = get_json(api, "/api/v1/audit/verify")
    assert v["ok"] is True


def test_a_write_failing_after_its_first_row_is_undone_alone(make_server):
    """Group commits skip a savepoint per write. A write refused after it
    wrote something (here its audit row, by a trigger) makes the writer
    roll the batch back and run it again with savepoints: that write
    is refused and leaves nothing, the others of its batch are stored
    with one audit row each and the chain verifies."""
    import sqlite3
    from conftest import Api
    s = make_server("--rate-limit", "0")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    con = sqlite3.connect(s.db)
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.changes LIKE "
                "'%refuse-me%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    con.commit()
    good, bad, lock = [], [], threading.Lock()

    def worker(i):
        for k in range(30):
            name = f"refuse-me {i}-{k}" if k % 10 == 3 else f"fine {i}-{k}"
            r = api.post("/api/v1/customers", {"name": name})
            with lock:
                if name.startswith("fine"):
                    assert r.status_code == 201, r.text
                    good.append(r.json())
                else:
                    assert r.status_code == 409, r.text   # RAISE(ABORT): a constraint
                    bad.append(name)

    run_threads(THREADS, worker)
    assert len(good) == THREADS * 27 and len(bad) == THREADS * 3
    stored = {r[0]: r[1] for r in con.execute("SELECT id, name FROM customers")}
    assert stored == {c["id"]: c["name"] for c in good}
    audit = con.execute("SELECT object_id, action FROM audit WHERE object='customers'").fetchall()
    assert sorted(a[0] for a in audit) == sorted(stored) and {a[1] for a in audit} == {"create"}
    assert get_json(api, "/api/v1/audit/verify")["ok"] is True
    con.close()
