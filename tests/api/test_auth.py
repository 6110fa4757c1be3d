"""Sign-in, sessions, CSRF, sign-out, API keys and their revocation."""
import re

import requests

from conftest import Api, unique
from helpers import (add_key, add_user, assert_problem, get_json, next_address, session_from,
                     sign_in)


def fresh_client(server):
    return Api(server.base, None, server.openapi, session_from())


def test_sign_in_sets_a_session_cookie(server, alpha):
    u = add_user(alpha, "sales")
    api = fresh_client(server)
    r = api.post("/api/v1/session", {"tenant": "alpha", "email": u["email"], "password": u["password"]})
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert re.match(r"axon_session=[A-Za-z0-9_-]{40,}; ", cookie)
    attrs = {a.strip().split("=")[0] for a in cookie.split(";")[1:]}
    assert {"Path", "HttpOnly", "SameSite", "Max-Age"} <= attrs and "SameSite=Lax" in cookie
    assert "Secure" not in attrs, "no TLS here, no --secure-cookies"
    body = r.json()
    assert body["role"] == "sales" and body["user"]["id"] == u["id"]
    assert body["tenant"]["slug"] == "alpha" and len(body["csrf_token"]) >= 24
    me = get_json(api, "/api/v1/session")
    assert me["user"]["email"] == u["email"] and me["csrf_token"] == body["csrf_token"]
    # the tenant's id and the e-mail in another case work too
    api2 = fresh_client(server)
    r = api2.post("/api/v1/session", {"tenant": body["tenant"]["id"], "email": u["email"].upper(),
                                      "password": u["password"]})
    assert r.status_code == 200 and r.json()["user"]["id"] == u["id"]


def test_wrong_credentials(server, alpha):
    u = add_user(alpha, "sales")
    api = fresh_client(server)
    for body in ({"tenant": "alpha", "email": u["email"], "password": "wrong-password-1"},
                 {"tenant": "alpha", "email": "nobody@example.com", "password": u["password"]},
                 {"tenant": "nosuch", "email": u["email"], "password": u["password"]},
                 {"tenant": "beta", "email": u["email"], "password": u["password"]}):
        body_ = assert_problem(api.post("/api/v1/session", body), 401, "bad-credentials")
        assert body_["detail"] == "the tenant, e-mail or password is not right"
        assert "axon_session" not in api.s.cookies
    for bad in ({"tenant": "alpha", "email": u["email"]},
                {"tenant": "alpha", "email": u["email"], "password": u["password"], "role": "admin"},
                {"tenant": "alpha", "email": u["email"], "password": 12345678901}):
        assert_problem(api.post("/api/v1/session", bad), 422, "validation-error")


def test_inactive_user_cannot_sign_in_and_loses_the_session(server, alpha):
    u = add_user(alpha, "sales")
    api = sign_in(server, "alpha", u["email"], u["password"])
    assert alpha.patch(f"/api/v1/users/{u['id']}", {"active": False}).status_code == 200
    assert_problem(api.get("/api/v1/customers"), 401, "unauthenticated")
    assert_problem(fresh_client(server).post("/api/v1/session", {
        "tenant": "alpha", "email": u["email"], "password": u["password"]}), 401, "bad-credentials")


def test_csrf(server, alpha):
    u = add_user(alpha, "sales")
    api = sign_in(server, "alpha", u["email"], u["password"])
    token = api.csrf
    api.csrf = None   # send the token by hand below
    origin = server.base
    c = alpha.create("customers", {"name": unique("csrf")})

    def post(headers):
        return api.post("/api/v1/customers", {"name": unique("csrf")}, headers=headers)

    assert_problem(post({}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": "x" * len(token)}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": token[:-1]}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": token, "Origin": "https://evil.example"}), 403, "csrf")
    assert_problem(post({"X-CSRF-Token": token, "Origin": "null"}), 403, "csrf")
    assert_problem(api.patch(f"/api/v1/customers/{c['id']}", {"tier": "A"}), 403, "csrf")
    assert_problem(api.delete(f"/api/v1/customers/{c['id']}"), 403, "csrf")
    assert get_json(alpha, f"/api/v1/customers/{c['id']}")["tier"] is None

    r = post({"X-CSRF-Token": token})
    assert r.status_code == 201
    r = post({"X-CSRF-Token": token, "Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201
    assert r.json()["created_by"] == u["id"] and r.json()["owner_id"] == u["id"]
    # reads need no token
    assert api.get("/api/v1/customers").status_code == 200


def test_sign_out_ends_the_session(server, alpha):
    u = add_user(alpha, "manager")
    api = sign_in(server, "alpha", u["email"], u["password"])
    cookie = api.s.cookies.get("axon_session")
    assert api.get("/api/v1/session").status_code == 200
    r = api.delete("/api/v1/session")
    assert r.status_code == 204
    assert "axon_session=;" in r.headers["Set-Cookie"] and "Max-Age=0" in r.headers["Set-Cookie"]
    # the old cookie, replayed, is worthless
    replay = requests.get(server.base + "/api/v1/session", cookies={"axon_session": cookie})
    assert replay.status_code == 401 and replay.json()["type"] == "/problems/unauthenticated"
    assert_problem(alpha.delete("/api/v1/session"), 400, "bad-request")


def test_new_password_ends_sessions(server, alpha):
    u = add_user(alpha, "service")
    api = sign_in(server, "alpha", u["email"], u["password"])
    # one's own password, with the session
    r = api.post(f"/api/v1/users/{u['id']}/password", {"password": "a-brand-new-pw-1"})
    assert r.status_code == 204
    assert_problem(api.get("/api/v1/session"), 401, "unauthenticated")
    assert_problem(fresh_client(server).post("/api/v1/session", {
        "tenant": "alpha", "email": u["email"], "password": u["password"]}), 401, "bad-credentials")
    again = sign_in(server, "alpha", u["email"], "a-brand-new-pw-1")
    assert_problem(again.post(f"/api/v1/users/{u['id']}/password", {"password": "short"}), 422,
                   "validation-error")
    assert_problem(again.post(f"/api/v1/users/{u['id']}/password", {"pw": "long-enough-pw"}), 422,
                   "validation-error")
    history = get_json(alpha, f"/api/v1/users/{u['id']}/history")["data"]
    assert history[0]["changes"] == {"password": ["(unchanged)", "(changed)"]}
    assert u["password"] not in str(history)


def test_sign_in_is_rate_limited_per_address(server, alpha):
    u = add_user(alpha, "sales")
    address = next_address()
    api = Api(server.base, None, server.openapi, session_from(address))
    statuses = []
    for _ in range(12):
        r = api.post("/api/v1/session", {"tenant": "alpha", "email": u["email"],
                                         "password": "not-the-password"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429, statuses
    body = assert_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1 and "sign-in" in body["detail"]
    # even the right password waits
    r = api.post("/api/v1/session", {"tenant": "alpha", "email": u["email"], "password": u["password"]})
    assert_problem(r, 429, "rate-limited")
    # another address is not affected
    assert sign_in(server, "alpha", u["email"], u["password"]).login["user"]["id"] == u["id"]


def test_api_keys(server, alpha):
    k = add_key(alpha, "read write")
    assert re.fullmatch(r"axk_[0-9a-z]{20}_[A-Za-z0-9_-]{40,}", k["token"])
    assert k["scopes"] == "read write" and k["id"] == "key_" + k["token"].split("_")[1]
    api = Api(server.base, k["token"], server.openapi)
    assert api.create("customers", {"name": "by key"})["created_by"] == k["id"]
    listed = {x["id"]: x for x in get_json(alpha, "/api/v1/api-keys")["data"]}
    assert listed[k["id"]]["prefix"] == "axk_" + k["token"].split("_")[1]
    assert k["token"] not in str(listed) and k["token"].split("_", 2)[2] not in str(listed)
    assert listed[k["id"]]["revoked_at"] is None

    assert alpha.delete(f"/api/v1/api-keys/{k['id']}").status_code == 204
    body = assert_problem(api.get("/api/v1/customers"), 401, "unauthenticated")
    assert "revoked" in body["detail"]
    assert "Bearer" in api.get("/api/v1/tenant").headers["WWW-Authenticate"]
    listed = {x["id"]: x for x in get_json(alpha, "/api/v1/api-keys")["data"]}
    assert listed[k["id"]]["revoked_at"] is not None
    assert_problem(alpha.delete("/api/v1/api-keys/key_nosuchkey0000000000000"), 404, "not-found")
    trail = get_json(alpha, "/api/v1/audit?object=api_keys&limit=200")["data"]
    assert [(e["action"], e["changes"]) for e in trail if e["object_id"] == k["id"]] == [
        ("update", {"revoked": [False, True]}),
        ("create", {"name": [None, listed[k["id"]]["name"]], "scopes": [None, "read write"]})]


def test_key_scopes_are_answered_as_stored(alpha):
    for given, stored in (("admin", "read write admin"), ("write", "read write"),
                          ("read, read", "read"), ("write read", "read write")):
        k = add_key(alpha, given)
        assert k["scopes"] == stored, given
        listed = {x["id"]: x for x in get_json(alpha, "/api/v1/api-keys")["data"]}
        assert listed[k["id"]]["scopes"] == stored


def test_expired_key(server, alpha):
    r = alpha.post("/api/v1/api-keys", {"name": "old", "scopes": "read",
                                        "expires_at": "2020-01-01T00:00:00Z"})
    assert r.status_code == 201
    api = Api(server.base, r.json()["token"], server.openapi)
    assert_problem(api.get("/api/v1/customers"), 401, "unauthenticated")


def test_bad_key_requests(server, alpha):
    assert_problem(alpha.post("/api/v1/api-keys", {"name": "x", "scopes": "root"}), 422,
                   "validation-error")
    assert_problem(alpha.post("/api/v1/api-keys", {"scopes": "read"}), 422, "validation-error")
    assert_problem(alpha.post("/api/v1/api-keys", {"name": "x", "tenant_id": 1}), 422,
                   "validation-error")
    base = server.base + "/api/v1/customers"
    for h in ({}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer "},
              {"Authorization": "Bearer axk_" + "0" * 20 + "_" + "x" * 43},
              {"Authorization": "Bearer " + alpha.key[:-2]},
              {"Authorization": "Bearer " + "x" * 500},
              {"Cookie": "axon_session=" + "A" * 43}):
        r = requests.get(base, headers=h)
        assert r.status_code == 401, (h, r.text)
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/unauthenticated"


def test_role_changes_and_deletion_apply_to_open_sessions(server, alpha):
    u = add_user(alpha, "sales")
    api = sign_in(server, "alpha", u["email"], u["password"])
    c = api.create("customers", {"name": unique("s")})
    assert c["owner_id"] == u["id"]
    assert alpha.patch(f"/api/v1/users/{u['id']}", {"role": "read_only"}).status_code == 200
    assert_problem(api.post("/api/v1/customers", {"name": unique("s")}), 403, "forbidden")
    assert get_json(api, "/api/v1/session")["role"] == "read_only"
    assert_problem(alpha.delete(f"/api/v1/users/{u['id']}"), 409, "in-use")   # owns a customer
    assert alpha.delete(f"/api/v1/customers/{c['id']}").status_code == 204
    assert alpha.delete(f"/api/v1/users/{u['id']}").status_code == 204
    assert_problem(api.get("/api/v1/session"), 401, "unauthenticated")
