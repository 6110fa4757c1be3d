"""`axon demo` on a fresh database: it creates the demo tenant, prints its
admin credentials once, loads the samples shipped in data/ within a minute,
and a second run loads nothing again."""
import os
import re
import time

import pytest
import requests

from conftest import REPO_DATA, Api, OpenApi, Server, parse_admin, run_cli
from helpers import get_json, sign_in
from import_helpers import read_csv, total


@pytest.fixture(scope="module")
def demo(workdir):
    s = Server(os.path.join(workdir, "demo"), extra_args=["--rate-limit", "0"])
    os.makedirs(s.workdir)
    t0 = time.monotonic()
    p = run_cli(s.db, s.var, "demo", "--data", REPO_DATA, timeout=120)
    elapsed = time.monotonic() - t0
    s.start()
    s.openapi = OpenApi(requests.get(s.base + "/api/v1/openapi.json").json())
    yield {"server": s, "out": p.stdout, "err": p.stderr, "seconds": elapsed}
    s.stop()
    log = open(s.log_path, errors="replace").read()
    assert "ERROR" not in log, log[-3000:]


def test_demo_loads_within_a_minute_and_prints_the_credentials(demo):
    out = demo["out"]
    assert demo["seconds"] < 60, f"axon demo took {demo['seconds']:.1f} s"
    creds = parse_admin(out)
    assert creds["slug"] == "demo"
    assert creds["email"] == "admin@demo.example"
    assert re.search(r"^tenant\s+Axon Demo \(slug demo, id ten_\w+\)$", out, re.M), out
    assert "shown once" in out
    # one summary line per step, none failed
    steps = {"products": 7, "accounts": 85, "managers": 35, "sales agents": 35, "deals": 8800,
             "ticket customers": 2000, "tickets": 2000, "reviews": 11987}
    for label, rows in steps.items():
        m = re.search(rf"^{label}\s+(\d+) rows in [\d.]+ s .*, (\d+) failed$", out, re.M)
        assert m, (label, out)
        assert (int(m.group(1)), int(m.group(2))) == (rows, 0), label
    assert re.search(r"^demo loaded in [\d.]+ s$", out, re.M), out


def test_the_demo_tenant_serves_the_data(demo):
    s = demo["server"]
    creds = parse_admin(demo["out"])
    api = Api(s.base, creds["key"], s.openapi)
    assert get_json(api, "/api/v1/tenant")["slug"] == "demo"
    assert total(api, "/api/v1/deals") == 8800
    tickets = read_csv(os.path.join(REPO_DATA, "support_tickets_en",
                                    "customer_support_tickets_sample.csv"))
    emails = {t["Customer Email"] for t in tickets}
    customers = total(api, "/api/v1/customers")
    assert customers >= 85
    assert customers == 85 + len(emails) + 1     # accounts, ticket customers, the review platform
    assert total(api, "/api/v1/customers?kind=company") == 86
    assert total(api, "/api/v1/tickets") == len(tickets) == 2000
    assert total(api, "/api/v1/activities") == 11987
    assert total(api, "/api/v1/users?role=sales") == 35
    assert total(api, "/api/v1/users?role=manager") == 6
    summary = get_json(api, "/api/v1/deals/summary")
    assert {r["stage"]: r["count"] for r in summary["data"]} == \
        {"won": 4238, "lost": 2473, "engaging": 1589, "prospecting": 500}
    gtx = get_json(api, "/api/v1/products?name=GTX Pro")["data"][0]
    assert total(api, f"/api/v1/deals?product_id={gtx['id']}") == 1480
    hits = get_json(api, "/api/v1/search?q=送餐")["data"]
    assert hits and all("送餐" in h["record"]["body"] for h in hits)
    hits = get_json(api, "/api/v1/search?q=battery&types=tickets")["data"]
    assert hits and all(h["object"] == "ticket" for h in hits)
    # every deal's owner is one of the sales agents
    d = get_json(api, "/api/v1/deals?external_id=1C1I7A6R")["data"][0]
    assert get_json(api, f"/api/v1/users/{d['owner_id']}")["name"] == "Moses Frase"
    # the printed password signs in
    me = sign_in(s, "demo", creds["email"], creds["password"]).login
    assert me["role"] == "admin"


def test_a_second_demo_run_imports_nothing(demo):
    s = demo["server"]
    creds = parse_admin(demo["out"])
    api = Api(s.base, creds["key"], s.openapi)
    jobs = [j["id"] for j in get_json(api, "/api/v1/jobs?limit=200")["data"]]
    assert len(jobs) == 8
    t0 = time.monotonic()
    p = run_cli(s.db, s.var, "demo", "--data", REPO_DATA)
    assert time.monotonic() - t0 < 10
    assert "demo tenant exists (slug demo" in p.stdout, p.stdout
    assert "axk_" not in p.stdout and "password:" not in p.stdout
    assert "rows in" not in p.stdout
    assert total(api, "/api/v1/deals") == 8800
    assert [j["id"] for j in get_json(api, "/api/v1/jobs?limit=200")["data"]] == jobs
    tenants = run_cli(s.db, s.var, "tenant", "list").stdout
    assert [line.split()[1] for line in tenants.splitlines()[1:]] == ["demo"], tenants
