"""kill -9 during a write load: every acknowledged write survives."""
import threading
import time

import requests

from conftest import Api
from helpers import get_json


def test_acknowledged_writes_survive_kill_9(make_server):
    s = make_server("--rate-limit", "0")
    key = s.tenants["alpha"]["key"]
    base_rows = get_json(Api(s.base, key, s.openapi), "/api/v1/audit/verify")["rows"]
    acked, lock, stop = [], threading.Lock(), threading.Event()
    errors = []

    def writer(i):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            body = {"name": f"crash-{i}-{n}", "employees": n}
            try:
                r = session.post(s.base + "/api/v1/customers", json=body, timeout=5,
                                 headers={"Authorization": "Bearer " + key})
            except requests.RequestException:
                break                      # the server is gone
            if r.status_code == 201:
                with lock:
                    acked.append((r.json()["id"], body["name"]))
            else:
                errors.append((r.status_code, r.text[:200]))
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    with lock:
        before_kill = len(acked)
    s.kill9()                              # mid-load: requests are in flight
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert before_kill > 50, f"only {before_kill} writes before the kill: no load"

    s.start()                              # same database, new process
    api = Api(s.base, key, s.openapi)
    missing = [(i, name) for i, name in acked
               if requests.get(f"{s.base}/api/v1/customers/{i}",
                               headers={"Authorization": "Bearer " + key}).status_code != 200]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost: {missing[:5]}"
    for i, name in acked[:: max(1, len(acked) // 50)]:
        assert get_json(api, f"/api/v1/customers/{i}")["name"] == name
    total = get_json(api, "/api/v1/customers?count=true&limit=1")["total"]
    assert len(acked) <= total <= len(acked) + 6   # at most the in-flight ones more
    v = get_json(api, "/api/v1/audit/verify")
    assert v["ok"] is True
    assert v["rows"] == base_rows + total, "one audit row per surviving record, no more, no less"
    # and the server takes writes again
    assert api.create("customers", {"name": "after the crash"})["version"] == 1
