"""Per-caller rate limits: 429 with Retry-After, RateLimit headers."""
import re
import time

import requests

from conftest import Api
from helpers import assert_problem


def test_rate_limit(make_server):
    s = make_server("--rate-limit", "2", "--rate-burst", "4")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    for i in range(4):
        r = api.get("/api/v1/customers")
        assert r.status_code == 200, (i, r.text)
        assert r.headers["RateLimit-Policy"] == '"default";q=4;w=2'
        m = re.fullmatch(r'"default";r=(\d+);t=(\d+)', r.headers["RateLimit"])
        assert m and int(m.group(1)) == 3 - i, r.headers["RateLimit"]
    r = api.get("/api/v1/customers")
    body = assert_problem(r, 429, "rate-limited")
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 2 and "retry in" in body["detail"]
    # writes count too, and get the same answer
    assert_problem(api.post("/api/v1/customers", {"name": "x"}), 429, "rate-limited")

    # another key of the tenant has its own budget
    other = Api(s.base, add_key_direct(s), s.openapi)
    assert other.get("/api/v1/customers").status_code == 200

    time.sleep(retry)
    r = api.get("/api/v1/customers")
    assert r.status_code == 200, "after Retry-After seconds the caller may go on"
    # public documents are not limited
    for _ in range(10):
        assert requests.get(s.base + "/healthz").status_code == 200


def add_key_direct(s):
    """A second key made with the CLI (the first key's budget is spent)."""
    out = s.cli("apikey", "create", "--tenant", "alpha", "--scopes", "read").stdout
    return re.search(r"(axk_\S+)", out.split(":", 1)[1]).group(1)
