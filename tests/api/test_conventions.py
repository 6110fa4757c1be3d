"""ETag / If-Match, Idempotency-Key, X-Request-Id and problem types."""
import re
import threading

import requests

from conftest import Api, unique
from helpers import assert_problem, get_json, make, run_threads, session_from


# ---- ETag and If-Match --------------------------------------------------------

def test_if_match(alpha):
    c = make(alpha, "customers")
    url = f"/api/v1/customers/{c['id']}"
    r = alpha.patch(url, {"tier": "A"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    body = assert_problem(alpha.patch(url, {"tier": "B"}, headers={"If-Match": '"1"'}), 412,
                          "version-mismatch")
    assert "version 2" in body["detail"]
    assert get_json(alpha, url)["tier"] == "A", "a refused update changes nothing"
    assert_problem(alpha.delete(url, headers={"If-Match": '"1"'}), 412, "version-mismatch")
    assert alpha.get(url).status_code == 200
    assert alpha.patch(url, {"tier": "C"}, headers={"If-Match": "*"}).status_code == 200
    for bad in ('W/"3"', "3", '"3', '"3", "4"', '"-1"'):
        assert_problem(alpha.patch(url, {"tier": "D"}, headers={"If-Match": bad}), 400,
                       "bad-request")
    assert alpha.delete(url, headers={"If-Match": '"3"'}).status_code == 204


def test_if_none_match(alpha):
    c = make(alpha, "customers")
    url = f"/api/v1/customers/{c['id']}"
    r = alpha.get(url, headers={"If-None-Match": '"1"'})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == '"1"'
    alpha.patch(url, {"tier": "A"})
    r = alpha.get(url, headers={"If-None-Match": '"1"'})
    assert r.status_code == 200 and r.json()["tier"] == "A"


# ---- Idempotency-Key ---------------------------------------------------------------

def count_named(api, name):
    return get_json(api, f"/api/v1/customers?name={name}&count=true")["total"]


def test_idempotent_replay(alpha):
    name, key = unique("idem"), unique("key")
    body = {"name": name, "tier": "A"}
    r1 = alpha.post("/api/v1/customers", body, headers={"Idempotency-Key": key})
    assert r1.status_code == 201 and "Idempotent-Replayed" not in r1.headers
    r2 = alpha.post("/api/v1/customers", body, headers={"Idempotency-Key": key})
    assert r2.status_code == 201
    assert r2.headers["Idempotent-Replayed"] == "true"
    assert r2.json() == r1.json()
    assert r2.headers["Location"] == r1.headers["Location"]
    assert r2.headers["ETag"] == r1.headers["ETag"]
    assert count_named(alpha, name) == 1
    rows = get_json(alpha, f"/api/v1/customers/{r1.json()['id']}/history")["data"]
    assert [e["action"] for e in rows] == ["create"], "a replay writes no second audit row"


def test_idempotency_key_with_another_body(alpha):
    name, key = unique("idem"), unique("key")
    assert alpha.post("/api/v1/customers", {"name": name},
                      headers={"Idempotency-Key": key}).status_code == 201
    r = alpha.post("/api/v1/customers", {"name": name + "-other"}, headers={"Idempotency-Key": key})
    assert_problem(r, 422, "idempotency-key-reused")
    assert count_named(alpha, name + "-other") == 0
    # the same key on another path is another request too
    r = alpha.post("/api/v1/units", {"name": name}, headers={"Idempotency-Key": key})
    assert_problem(r, 422, "idempotency-key-reused")


def test_idempotency_keys_belong_to_their_caller(alpha, beta):
    key = unique("key")
    a = alpha.post("/api/v1/customers", {"name": "same"}, headers={"Idempotency-Key": key})
    b = beta.post("/api/v1/customers", {"name": "same"}, headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers and a.json()["id"] != b.json()["id"]


def test_idempotent_patch_and_failed_first_try(alpha):
    c = make(alpha, "customers")
    key = unique("key")
    url = f"/api/v1/customers/{c['id']}"
    r1 = alpha.patch(url, {"employees": 5}, headers={"Idempotency-Key": key})
    r2 = alpha.patch(url, {"employees": 5}, headers={"Idempotency-Key": key})
    assert r1.json()["version"] == r2.json()["version"] == 2
    assert r2.headers["Idempotent-Replayed"] == "true"
    # a request that failed is not stored: the retry runs again
    key2 = unique("key")
    assert alpha.post("/api/v1/customers", {"name": None},
                      headers={"Idempotency-Key": key2}).status_code == 422
    name = unique("retry")
    r = alpha.post("/api/v1/customers", {"name": name}, headers={"Idempotency-Key": key2})
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert_problem(alpha.post("/api/v1/customers", {"name": "x"},
                              headers={"Idempotency-Key": "k" * 256}), 400, "bad-request")
    assert_problem(alpha.post("/api/v1/customers", {"name": "x"},
                              headers={"Idempotency-Key": "has space"}), 400, "bad-request")


def test_concurrent_retries_create_one_record(alpha):
    name, key = unique("race"), unique("key")
    results = []
    lock = threading.Lock()

    def post(_):
        r = alpha.post("/api/v1/customers", {"name": name}, headers={"Idempotency-Key": key})
        with lock:
            results.append((r.status_code, r.json()["id"]))

    run_threads(8, post)
    assert {s for s, _ in results} == {201}
    assert len({i for _, i in results}) == 1
    assert count_named(alpha, name) == 1


# ---- X-Request-Id -------------------------------------------------------------------

def test_request_id_echoed_and_generated(alpha):
    r = alpha.get("/api/v1/tenant", headers={"X-Request-Id": "trace-123.abc"})
    assert r.headers["X-Request-Id"] == "trace-123.abc"
    r = alpha.get("/api/v1/tenant")
    assert re.fullmatch(r"req_[0-9a-z]{20}", r.headers["X-Request-Id"])
    assert r.headers["X-Request-Id"] != alpha.get("/api/v1/tenant").headers["X-Request-Id"]
    for bad in ("x" * 64, "has space", 'quo"te', ""):
        r = alpha.get("/api/v1/tenant", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"req_[0-9a-z]{20}", r.headers["X-Request-Id"]), bad
    r = alpha.get("/api/v1/customers/cus_nope", headers={"X-Request-Id": "trace-404"})
    assert r.headers["X-Request-Id"] == "trace-404" and r.json()["request_id"] == "trace-404"
    r = requests.get(alpha.base + "/api/v1/customers", headers={"X-Request-Id": "trace-401"})
    assert r.status_code == 401 and r.json()["request_id"] == "trace-401"


# ---- problem types ----------------------------------------------------------------------

def test_every_problem_type_is_documented(server, alpha, anon):
    """Errors of many kinds: each is problem+json whose type resolves to a
    description (types are stable URIs, not free text)."""
    c = make(alpha, "customers")
    alpha.create("deals", {"name": "d", "customer_id": c["id"]})
    responses = [
        anon.get("/api/v1/customers"),
        alpha.get("/api/v1/customers/cus_nope"),
        alpha.post("/api/v1/customers", {"name": 5}),
        alpha.post("/api/v1/customers", data=b"{", headers={"Content-Type": "application/json"}),
        alpha.post("/api/v1/customers", data=b"x", headers={"Content-Type": "text/plain"}),
        alpha.get("/api/v1/customers?sort=phone"),
        alpha.get("/api/v1/customers?nosuch=1"),
        alpha.get("/api/v1/customers?after=xyz"),
        alpha.delete(f"/api/v1/customers/{c['id']}"),
        alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "x"}, headers={"If-Match": '"9"'}),
        alpha.request("PUT", "/api/v1/customers", json_body={}),
        Api(server.base, None, server.openapi, session_from()).post(
            "/api/v1/session", {"tenant": "alpha", "email": "a@b.cd", "password": "x"}),
    ]
    seen = set()
    for r in responses:
        assert r.status_code >= 400, r.text
        t = r.json()["type"]
        seen.add(t)
        assert t.startswith("/problems/")
        doc = requests.get(server.base + t)
        assert doc.status_code == 200, f"{t} is not documented"
        assert doc.json()["type"] == t and doc.json()["description"]
    assert len(seen) >= 10, seen
    r = requests.get(server.base + "/problems/no-such-type")
    assert r.status_code == 404
