"""Roles and key scopes on every endpoint of the OpenAPI document, and the
fields a role may not read."""
import re

import pytest

from conftest import Api, unique
from intel_helpers import tiny_model
from pack_helpers import manifest, upload, zip_pack
from helpers import (OBJECTS, ROLES, add_key, add_user, assert_problem, body_for, get_json,
                     make, patch_for, sign_in)

ALL = set(ROLES)
STAFF = ALL - {"read_only"}
LEADS = {"admin", "manager"}
ADMIN = {"admin"}
WRITE = {"customers": STAFF, "contacts": STAFF, "tickets": STAFF, "activities": STAFF,
         "products": LEADS, "deals": {"admin", "manager", "sales"},
         "users": ADMIN, "units": ADMIN, "pipelines": ADMIN, "fields": ADMIN,
         "suggestions": STAFF, "approvals": LEADS}
DELETE = {o: (ADMIN if o in ("users", "units", "pipelines", "fields", "approvals") else LEADS)
          for o in OBJECTS}

# Who may call each operation; None: not checked here (and why).
SPECIAL = {
    ("GET", "/healthz"): None,                          # public
    ("GET", "/api/v1/openapi.json"): None,              # public
    ("POST", "/api/v1/session"): None,                  # public: sign-in, see test_auth
    ("DELETE", "/api/v1/session"): None,                # sign-out, see test_auth
    ("GET", "/api/v1/session"): ALL,
    ("GET", "/api/v1/tenant"): ALL,
    ("GET", "/api/v1/search"): ALL,
    ("GET", "/api/v1/audit"): LEADS,
    ("GET", "/api/v1/audit/verify"): LEADS,
    ("GET", "/api/v1/api-keys"): ADMIN,
    ("POST", "/api/v1/api-keys"): ADMIN,
    ("DELETE", "/api/v1/api-keys/{id}"): ADMIN,
    ("POST", "/api/v1/users/{id}/password"): ADMIN,    # someone else's; one's own: test_auth
    ("GET", "/api/v1/customers/{id}/timeline"): ALL,
    ("GET", "/api/v1/deals/summary"): ALL,
    ("GET", "/api/v1/deals/{id}/stages"): ALL,
    ("POST", "/api/v1/imports"): None,                  # uploads: the import tests' business
    ("POST", "/api/v1/imports/preview"): None,
    ("GET", "/api/v1/jobs"): LEADS,
    ("GET", "/api/v1/jobs/{id}"): None,                 # needs a job: the import tests'
    ("GET", "/api/v1/jobs/{id}/errors"): None,
    ("GET", "/api/v1/exports/{object}"): LEADS,
    ("GET", "/api/v1/packs"): LEADS,
    ("GET", "/api/v1/packs/{id}"): LEADS,
    ("GET", "/api/v1/packs/{id}/history"): LEADS,
    ("GET", "/api/v1/packs/{id}/runs"): LEADS,
    ("GET", "/api/v1/packs/{id}/deliveries"): LEADS,
    ("GET", "/api/v1/packs/{id}/versions/{version}"): LEADS,
    ("GET", "/api/v1/packs/{id}/versions/{version}/file"): None,   # needs ?path=: test_packs
    ("GET", "/api/v1/deliveries"): LEADS,
    ("GET", "/api/v1/outbound"): ADMIN,
    ("GET", "/api/v1/settings/workflow-budget"): ADMIN,
    # changing packs and budgets: admins only, test_packs.test_pack_changes_are_admin_only
    ("POST", "/api/v1/packs"): None,
    ("POST", "/api/v1/packs/{id}/disable"): None,
    ("POST", "/api/v1/packs/{id}/rollback"): None,
    ("POST", "/api/v1/packs/{id}/versions/{version}/publish"): None,
    ("POST", "/api/v1/packs/{id}/versions/{version}/replay"): None,
    ("POST", "/api/v1/deliveries/{id}/retry"): None,
    ("PUT", "/api/v1/settings/workflow-budget"): None,
    # suggestions' outcomes, the review audit, rules, KPIs (requests: SUGG_CALLS)
    ("POST", "/api/v1/suggestions/{id}/accept"): STAFF,
    ("POST", "/api/v1/suggestions/{id}/dismiss"): STAFF,
    ("POST", "/api/v1/suggestions/{id}/complete"): STAFF,
    ("POST", "/api/v1/reviews/samples"): LEADS,
    ("GET", "/api/v1/reviews"): LEADS,
    ("GET", "/api/v1/reviews/report"): LEADS,
    ("POST", "/api/v1/reviews/{id}"): LEADS,
    ("GET", "/api/v1/rules"): LEADS,
    ("POST", "/api/v1/rules/retire"): ADMIN,
    ("GET", "/api/v1/kpis/decision-chain"): ALL,
    ("GET", "/api/v1/intents/dictionaries"): LEADS,
    ("GET", "/api/v1/intents/dictionaries/{version}"): LEADS,
    ("GET", "/api/v1/models"): LEADS,
    ("GET", "/api/v1/models/{id}"): LEADS,
    ("GET", "/api/v1/activities/{id}/tags"): ALL,
    ("GET", "/api/v1/tickets/{id}/tags"): ALL,
    ("GET", "/api/v1/customers/{id}/intents"): ALL,
    # uploads, activations and texts to tag: test_intel.test_uploads_and_activations_are_admin_only
    ("POST", "/api/v1/intents/dictionaries"): None,
    ("POST", "/api/v1/intents/dictionaries/{version}/activate"): None,
    ("POST", "/api/v1/intents/test"): None,
    ("POST", "/api/v1/models"): None,
    ("POST", "/api/v1/models/{id}/activate"): None,
    ("POST", "/api/v1/models/{id}/predict"): None,
}
SCOPES = {"read": "read_only", "read write": "manager", "read write admin": "admin"}


def policy(method, path):
    if (method, path) in SPECIAL:
        return SPECIAL[(method, path)]
    m = re.fullmatch(r"/api/v1/([a-z]+)(/\{id\})?(/history|/facets)?", path)
    assert m and m.group(1) in OBJECTS, \
        f"{method} {path} has no role policy in test_roles.SPECIAL: add who may call it"
    obj = m.group(1)
    if method == "GET":
        return ALL
    if method == "DELETE":
        return DELETE[obj]
    return WRITE[obj]


@pytest.fixture(scope="module")
def principals(server, alpha):
    """A signed-in user of every role, and API keys of every scope:
    name -> (Api, role)."""
    out = {}
    for role in ROLES:
        u = add_user(alpha, role)
        out["user:" + role] = (sign_in(server, "alpha", u["email"], u["password"]), role, u)
    for scopes, role in SCOPES.items():
        k = add_key(alpha, scopes)
        out["key:" + scopes] = (Api(server.base, k["token"], server.openapi), role, None)
    return out


@pytest.fixture(scope="module")
def shared(alpha):
    recs = {}
    for obj in OBJECTS:
        recs[obj] = make(alpha, obj, recs)
    pack = upload(alpha, zip_pack({"pack.lua": manifest(unique("roles"), "1.0.0")}))
    recs["packs"] = {"id": pack["pack_id"]}
    recs["models"] = tiny_model(alpha)
    return recs


def this_month():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")


def decide(outcome, body=None):
    """POST an outcome on a fresh suggestion; a refusal leaves it open."""
    def run(api, admin):
        s = make(admin, "suggestions")

        def still_open():
            assert get_json(admin, f"/api/v1/suggestions/{s['id']}")["status"] == "open"
        return api.post(f"/api/v1/suggestions/{s['id']}/{outcome}", body), still_open
    return run


def verdict(api, admin):
    review = admin.post("/api/v1/reviews/samples", {"month": this_month(), "partial": True}).json()["review_ids"][0]
    return api.post(f"/api/v1/reviews/{review}", {"shortened": True, "reason": "why not"}), None


def retire(api, admin):
    rule = unique("roles/rule")
    admin.create("suggestions", {"title": "x", "rule": rule})

    def still_active():
        rules = {r["rule"]: r["status"] for r in get_json(admin, "/api/v1/rules")["data"]}
        assert rules[rule] == "active"
    return api.post("/api/v1/rules/retire", {"rule": rule, "reason": "no value"}), still_active


SUGG_CALLS = {
    "/api/v1/suggestions/{id}/accept": decide("accept"),
    "/api/v1/suggestions/{id}/dismiss": decide("dismiss", {"reason": "not now"}),
    "/api/v1/suggestions/{id}/complete": decide("complete", {"note": "done"}),
    "/api/v1/reviews/samples": lambda api, admin: (
        api.post("/api/v1/reviews/samples", {"month": this_month(), "partial": True}), None),
    "/api/v1/reviews/{id}": verdict,
    "/api/v1/rules/retire": retire,
}


def call(api, admin, shared, method, path):
    """Make the request for (method, path) as `api`; returns (response,
    check) where check() tells whether a refused write left things as they were."""
    m = re.fullmatch(r"/api/v1/([a-z-]+)(?:/\{id\})?(/[a-z]+)?", path)
    obj = m.group(1) if m else path.split("/")[3]
    if method == "GET":
        url = path.replace("{id}", shared[obj]["id"] if obj in shared else "x")
        url = url.replace("{version}", "0" if obj == "intents" else "1.0.0")
        url = url.replace("{object}", "customers")
        if path == "/api/v1/search":
            url += "?q=hello"
        if path.endswith("/facets"):
            url += "?fields=name" if obj not in ("deals", "tickets", "activities", "suggestions",
                                                 "approvals") else "?fields=owner_id"
        return api.get(url), None
    if path == "/api/v1/api-keys":
        return api.post(path, {"name": unique("k"), "scopes": "read"}), None
    if path == "/api/v1/api-keys/{id}":
        k = add_key(admin, "read")

        def still_works():
            listed = {x["id"]: x for x in get_json(admin, "/api/v1/api-keys")["data"]}
            assert listed[k["id"]]["revoked_at"] is None
        return api.delete(f"/api/v1/api-keys/{k['id']}"), still_works
    if path == "/api/v1/users/{id}/password":
        victim = make(admin, "users")
        return api.post(f"/api/v1/users/{victim['id']}/password", {"password": "new-password-123"}), None
    if method == "POST" and path in SUGG_CALLS:
        return SUGG_CALLS[path](api, admin)
    if method == "POST":
        return api.post(path, body_for(admin, obj)), None
    if method == "PATCH":
        rec = shared[obj]
        return api.patch(path.replace("{id}", rec["id"]), patch_for(obj)), None
    if method == "DELETE":
        rec = make(admin, obj)

        def still_there():
            assert admin.get(f"/api/v1/{obj}/{rec['id']}").status_code == 200, \
                f"a refused DELETE removed {rec['id']}"
        return api.delete(path.replace("{id}", rec["id"])), still_there
    raise AssertionError(f"no request for {method} {path}")


OK = {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204}


def test_every_endpoint_enforces_roles(server, alpha, principals, shared):
    doc = server.openapi.doc
    failures, checked = [], 0
    for name, (api, role, _) in principals.items():
        for path, item in doc["paths"].items():
            for method in item:
                method = method.upper()
                allowed = policy(method, path)
                if allowed is None:
                    continue
                r, unchanged = call(api, alpha, shared, method, path)
                ok = 204 if path.endswith("/password") else 200 if path in SUGG_CALLS else OK[method]
                want = ok if role in allowed else 403
                checked += 1
                if r.status_code != want:
                    failures.append(f"{name} ({role}) {method} {path}: {r.status_code}, "
                                    f"expected {want}: {r.text[:150]}")
                elif want == 403:
                    assert r.json()["type"] == "/problems/forbidden"
                    if unchanged:
                        unchanged()
    assert not failures, f"{len(failures)} of {checked}:\n" + "\n".join(failures)
    assert checked >= 8 * 60, checked


def test_read_only_cannot_write_anything(principals, alpha, shared):
    api = principals["user:read_only"][0]
    versions = {o: get_json(alpha, f"/api/v1/{o}/{shared[o]['id']}")["version"] for o in OBJECTS}
    for obj in OBJECTS:
        assert_problem(api.post(f"/api/v1/{obj}", body_for(alpha, obj)), 403, "forbidden")
        assert_problem(api.patch(f"/api/v1/{obj}/{shared[obj]['id']}", patch_for(obj)), 403,
                       "forbidden")
        assert_problem(api.delete(f"/api/v1/{obj}/{shared[obj]['id']}"), 403, "forbidden")
    for obj in OBJECTS:
        assert get_json(alpha, f"/api/v1/{obj}/{shared[obj]['id']}")["version"] == versions[obj]


def test_users_cannot_raise_their_own_role(principals):
    api, _, user = principals["user:sales"]
    assert_problem(api.patch(f"/api/v1/users/{user['id']}", {"role": "admin"}), 403, "forbidden")
    assert get_json(api, "/api/v1/session")["role"] == "sales"
    assert_problem(api.post("/api/v1/api-keys", {"name": "mine", "scopes": "admin"}), 403, "forbidden")


def test_last_admin_cannot_be_demoted(server):
    from helpers import extra_tenant
    _, api = extra_tenant(server, "admins")
    me = get_json(api, "/api/v1/users?role=admin")["data"]
    assert len(me) == 1
    assert_problem(api.patch(f"/api/v1/users/{me[0]['id']}", {"role": "sales"}), 409, "last-admin")
    assert_problem(api.patch(f"/api/v1/users/{me[0]['id']}", {"active": False}), 409, "last-admin")
    assert_problem(api.delete(f"/api/v1/users/{me[0]['id']}"), 409, "last-admin")


# ---- fields a role may not read -----------------------------------------------------------

@pytest.fixture(scope="module")
def money(alpha):
    c = alpha.create("customers", {"name": unique("rich"), "revenue": 42.5})
    alpha.patch(f"/api/v1/customers/{c['id']}", {"revenue": 50})
    d = alpha.create("deals", {"name": unique("big"), "customer_id": c["id"], "amount": 9000})
    alpha.patch(f"/api/v1/deals/{d['id']}", {"amount": 9500})
    return c, d


def test_service_does_not_see_revenue_or_amount(principals, money):
    service = principals["user:service"][0]
    sales = principals["user:sales"][0]
    c, d = money
    assert get_json(sales, f"/api/v1/customers/{c['id']}")["revenue"] == 50
    assert get_json(sales, f"/api/v1/deals/{d['id']}")["amount"] == 9500

    cs = get_json(service, f"/api/v1/customers/{c['id']}")
    assert "revenue" not in cs and cs["name"] == c["name"]
    assert "amount" not in get_json(service, f"/api/v1/deals/{d['id']}")
    assert all("revenue" not in x for x in get_json(service, "/api/v1/customers?limit=200")["data"])
    assert all("amount" not in x for x in get_json(service, "/api/v1/deals?limit=200")["data"])
    tl = get_json(service, f"/api/v1/customers/{c['id']}/timeline")["data"]
    assert tl and all("amount" not in i["record"] for i in tl)
    summary = get_json(service, "/api/v1/deals/summary")["data"]
    assert summary and all("amount" not in s for s in summary)
    assert all("amount" in s for s in get_json(sales, "/api/v1/deals/summary")["data"])
    for obj, rec, field in (("customers", c, "revenue"), ("deals", d, "amount")):
        h = get_json(service, f"/api/v1/{obj}/{rec['id']}/history")["data"]
        assert len(h) == 2
        assert all(field not in e["changes"] for e in h), f"history shows {field} to service"
        assert field in get_json(sales, f"/api/v1/{obj}/{rec['id']}/history")["data"][0]["changes"]
    found = get_json(service, f"/api/v1/search?q={c['name']}")["data"]
    assert found and all("revenue" not in x["record"] for x in found)


@pytest.mark.parametrize("query", ["customers?sort=revenue", "customers?sort=-revenue",
                                   "customers?revenue=50", "customers?revenue[gte]=1",
                                   "customers?revenue[null]=false", "customers?revenue[in]=1,2",
                                   "deals?sort=-amount", "deals?amount[lt]=10000"])
def test_service_cannot_filter_or_sort_by_hidden_fields(principals, query):
    service = principals["user:service"][0]
    body = assert_problem(service.get("/api/v1/" + query), 403, "forbidden")
    assert "cannot read" in body["detail"]
    assert principals["user:sales"][0].get("/api/v1/" + query).status_code == 200
