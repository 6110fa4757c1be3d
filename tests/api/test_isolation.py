"""Tenant isolation on every endpoint. The cases are generated from the
server's OpenAPI document, so an endpoint added later is covered (or this
test fails, asking for a way to make a record for it)."""
import json
import os
import re
import uuid

import pytest
import requests

from conftest import Api, Server, new_tenant, unique
from pack_helpers import deliveries, manifest, publish, upload, wait_for, zip_pack
from helpers import (OBJECTS, PREFIX, add_key, add_user, assert_problem, body_for, get_json,
                     make, missing_id, patch_for)
from intel_helpers import dictionary_csv, tiny_model, upload_dictionary

# Endpoints colleagues are still writing answer 500 "not yet"; their cases
# skip until the real handlers land.
PENDING_PROBES = {"jobs": "/api/v1/jobs", "exports": "/api/v1/exports/customers"}


@pytest.fixture(scope="module")
def pending(workdir):
    """Which families of endpoints still answer 500 'not yet'. Probed on a
    server of its own, so that the shared server's log stays free of the
    errors those stubs log."""
    s = Server(os.path.join(workdir, "probe-" + uuid.uuid4().hex[:8]), extra_args=["--rate-limit", "0"])
    os.makedirs(s.workdir)
    key = new_tenant(s, "probe")["key"]
    s.start()
    try:
        out = {}
        for family, path in PENDING_PROBES.items():
            r = requests.get(s.base + path, headers={"Authorization": "Bearer " + key}, timeout=10)
            out[family] = r.status_code == 500 and "not yet" in r.text
        return out
    finally:
        s.stop()


def family(path):
    if path.startswith("/api/v1/jobs") or path.startswith("/api/v1/imports"):
        return "jobs"
    if path.startswith("/api/v1/exports"):
        return "exports"
    return None


@pytest.fixture(scope="module")
def world(server, alpha, beta, pending):
    """Records of every kind in alpha, and beta's own records."""
    a = {}
    for obj in OBJECTS:
        a[obj] = make(alpha, obj, a)
    word = "Quokka" + uuid.uuid4().hex[:8]
    a["searchable"] = alpha.create("customers", {"name": word, "external_id": unique("ext")})
    alpha.create("tickets", {"subject": f"{word} printer jam", "customer_id": a["customers"]["id"]})
    alpha.create("activities", {"kind": "email", "body": f"about {word}", "customer_id": a["customers"]["id"]})
    a["deal_stage"] = alpha.patch(f"/api/v1/deals/{a['deals']['id']}", {"stage": "engaging"}).json()
    a["key"] = add_key(alpha, "read")
    a["pack"], a["delivery"] = pack_with_a_delivery(alpha)
    a["user"] = add_user(alpha, "sales")
    a["review"] = review_in(alpha)
    a["job"] = None
    if not pending["jobs"]:
        jobs = get_json(alpha, "/api/v1/jobs")["data"]
        if not jobs:   # make one with the documented CLI import
            csv = os.path.join(server.workdir, unique("units") + ".csv")
            with open(csv, "w") as f:
                f.write("name\n" + unique("imported unit") + "\n")
            server.cli("import", "--tenant", "alpha", "--object", "units", "--file", csv, check=False)
            jobs = get_json(alpha, "/api/v1/jobs")["data"]
        a["job"] = jobs[0] if jobs else None
    a["model"] = tiny_model(alpha)
    a["dict_version"] = alpha_dictionary_beta_lacks(alpha, beta)
    b = {obj: make(beta, obj, {}) for obj in ("customers", "deals", "users", "units")}
    versions = {obj: get_json(alpha, f"/api/v1/{obj}/{a[obj]['id']}")["version"] for obj in OBJECTS}
    return {"a": a, "b": b, "word": word, "versions": versions,
            "tenant_id": get_json(alpha, "/api/v1/tenant")["id"]}


def pack_with_a_delivery(alpha):
    """A published pack of alpha's whose after handler has run once."""
    pack = upload(alpha, zip_pack({
        "pack.lua": manifest(unique("iso"), "1.0.0", ["units:read"],
                             [("customers.created", "after", "m.run")]),
        "m.lua": "return { run = function(e) axon.log('seen', e.record.name) end }\n"}))
    publish(alpha, pack["pack_id"], "1.0.0")
    alpha.create("customers", {"name": unique("iso")})
    done = wait_for(lambda: deliveries(alpha, pack["pack_id"], "done"), what="a delivery")
    alpha.post(f"/api/v1/packs/{pack['pack_id']}/disable")
    return pack, done[0]["id"]


def review_in(alpha):
    """A review of alpha's: this month's sample holds its suggestions."""
    import datetime
    month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
    r = alpha.post("/api/v1/reviews/samples", {"month": month, "partial": True})
    assert r.status_code == 200, r.text
    return {"id": r.json()["review_ids"][0]}
def alpha_dictionary_beta_lacks(alpha, beta):
    """A dictionary version of alpha's with a number beta has no version
    of (versions are numbered per tenant)."""
    beta_max = max(d["version"] for d in get_json(beta, "/api/v1/intents/dictionaries")["data"])
    while True:
        d = upload_dictionary(alpha, dictionary_csv([("urgency", unique("急"), 1, "zh")]),
                              query="?activate=false")
        if d["version"] > beta_max:
            return d["version"]


def alpha_ids(world):
    a = world["a"]
    ids = {r["id"] for k, r in a.items() if isinstance(r, dict) and "id" in r}
    return ids


def id_for(world, path):
    """(alpha's id, prefix of a missing id) for a templated path."""
    a = world["a"]
    if path.startswith("/api/v1/packs/{id}"):
        return a["pack"]["pack_id"], "pck"
    if path.startswith("/api/v1/deliveries/{id}"):
        return a["delivery"], "dlv"
    if path == "/api/v1/reviews/{id}":
        return a["review"]["id"], "rev"
    if path.startswith("/api/v1/models/{id}"):
        return a["model"]["id"], "mdl"
    if path.startswith("/api/v1/intents/dictionaries/{version}"):
        return str(a["dict_version"]), None
    m = re.fullmatch(r"/api/v1/([a-z_-]+)/\{id\}(/[a-z]+)?", path)
    if not m:
        return None
    obj, sub = m.group(1), m.group(2)
    if obj in OBJECTS and sub in (None, "/history") or (obj, sub) in (
            ("customers", "/timeline"), ("deals", "/stages"), ("users", "/password"),
            ("suggestions", "/accept"), ("suggestions", "/dismiss"), ("suggestions", "/complete"),
            ("activities", "/tags"), ("tickets", "/tags"), ("customers", "/intents")):
        return a[obj]["id"], PREFIX[obj]
    if obj == "api-keys" and sub is None:
        return a["key"]["id"], "key"
    if obj == "jobs":
        return (a["job"]["id"] if a["job"] else None), "job"
    return None


def summary(r):
    try:
        body = r.json()
    except ValueError:
        body = {}
    return r.status_code, body.get("type"), body.get("title")


def request_body(path, method):
    if path.endswith("/replay"):
        return [{"type": "tickets.created", "record": {"subject": "beta was here"}}]
    if method == "PATCH":
        obj = path.split("/")[3]
        return patch_for(obj)
    if path.endswith("/password"):
        return {"password": "beta-was-here-123"}
    if path.endswith("/dismiss"):
        return {"reason": "beta was here"}
    if path == "/api/v1/reviews/{id}":
        return {"shortened": True, "reason": "beta was here"}
    if path.endswith("/predict"):
        return {"text": "beta was here"}
    return None


def check_id_paths(server, beta, world, fam):
    """Call every (method, path with {id}) of a family as beta, with alpha's
    id and with a missing one; returns the cases checked."""
    checked, failures = [], []
    for path, item in server.openapi.doc["paths"].items():
        if ("{id}" not in path and "/dictionaries/{version}" not in path) or family(path) != fam:
            continue
        for method in item:
            method = method.upper()
            target = id_for(world, path)
            assert target is not None, \
                f"no isolation case for {method} {path}: teach id_for() to make a record for it"
            alpha_id, prefix = target
            if alpha_id is None:
                pytest.skip(f"alpha has no record for {path} to probe")
            body = request_body(path, method)
            url = path.replace("{version}", "1.0.0")
            if url.endswith("/file"):
                url += "?path=pack.lua"
            if "/dictionaries/" in path:    # numbered per tenant
                url = path.replace("{version}", "{id}")
            theirs = beta.request(method, url.replace("{id}", alpha_id), json_body=body)
            missing = beta.request(method, url.replace("{id}", missing_id(prefix) if prefix
                                                       else "999999999"), json_body=body)
            got, want = summary(theirs), summary(missing)
            if got != want or theirs.status_code != 404:
                failures.append(f"{method} {path}: alpha's id -> {got}, a missing id -> {want}")
            checked.append(f"{method} {path}")
    assert not failures, "\n".join(failures)
    return checked


# A filterable field per object, for the facets endpoints.
FACET_FIELD = {"customers": "name", "contacts": "name", "products": "name", "deals": "stage",
               "tickets": "status", "activities": "kind", "users": "name", "units": "name",
               "pipelines": "name", "fields": "name", "suggestions": "status",
               "approvals": "status"}


def check_lists(server, beta, world, fam):
    """GET every list-like path of a family as beta: none of alpha's ids or
    words appear. Returns the requests made."""
    ids = alpha_ids(world)
    word = world["word"]
    checked = []
    for path, item in server.openapi.doc["paths"].items():
        if "get" not in item or "{id}" in path or "{version}" in path or \
                path in ("/healthz", "/api/v1/openapi.json"):
            continue
        if family(path) != fam:
            continue
        paths = [path.replace("{object}", o) for o in OBJECTS] if "{object}" in path else [path]
        for p in paths:
            queries = ("", f"?q={word}", "?limit=200", "?count=true&limit=200")
            if p.endswith("/facets"):
                field = FACET_FIELD[p.split("/")[3]]
                queries = (f"?fields={field}", f"?fields={field}&limit=100")
            for query in queries:
                if query.startswith("?q=") != p.endswith("/search"):
                    continue
                r = beta.get(p + query)
                assert r.status_code == 200, f"GET {p}{query}: {r.status_code} {r.text[:200]}"
                text = r.text
                if p.endswith("/search"):
                    assert r.json()["data"] == [], f"search as beta finds alpha's {word}"
                    text = json.dumps(r.json()["data"])
                leaked = [i for i in ids if i in text]
                assert not leaked and word not in text, \
                    f"GET {p}{query} as beta shows alpha's {leaked or word}"
                checked.append(p + query)
    return checked


def test_every_endpoint_with_an_id_answers_404_to_another_tenant(server, alpha, beta, world):
    checked = check_id_paths(server, beta, world, None)
    assert len(checked) >= 40, checked
    # nothing of alpha's changed
    for obj in OBJECTS:
        assert get_json(alpha, f"/api/v1/{obj}/{world['a'][obj]['id']}")["version"] == \
            world["versions"][obj], obj
    key = world["a"]["key"]
    listed = {k["id"]: k for k in get_json(alpha, "/api/v1/api-keys")["data"]}
    assert listed[key["id"]]["revoked_at"] is None
    assert requests.get(server.base + "/api/v1/tenant",
                        headers={"Authorization": "Bearer " + key["token"]}).status_code == 200
    beta_actor = "key_" + beta.key.split("_")[1]
    trail = get_json(alpha, "/api/v1/audit?limit=200")["data"]
    assert not [e for e in trail if e["actor_id"] == beta_actor]


def test_lists_search_and_audit_never_show_another_tenant(server, alpha, beta, world):
    word = world["word"]
    assert get_json(alpha, f"/api/v1/search?q={word}")["data"], \
        "alpha finds its own record (else the check below proves nothing)"
    checked = check_lists(server, beta, world, None)
    assert len(checked) >= 20, checked
    # filters naming alpha's records find nothing
    a = world["a"]
    for q in (f"/api/v1/contacts?customer_id={a['customers']['id']}",
              f"/api/v1/deals?pipeline_id={a['pipelines']['id']}",
              f"/api/v1/customers?external_id={a['searchable']['external_id']}",
              f"/api/v1/customers?name={word}"):
        assert get_json(beta, q)["data"] == [], q
    assert get_json(beta, f"/api/v1/deals/summary?pipeline_id={a['pipelines']['id']}")["total"] == 0
    verify_a = get_json(alpha, "/api/v1/audit/verify")
    verify_b = get_json(beta, "/api/v1/audit/verify")
    assert verify_a["ok"] and verify_b["ok"] and verify_a["head"] != verify_b["head"]
    assert get_json(beta, "/api/v1/tenant")["slug"] == "beta"
    assert get_json(beta, "/api/v1/session")["tenant"]["slug"] == "beta"


@pytest.mark.parametrize("fam", sorted(PENDING_PROBES))
def test_isolation_of_endpoints_in_progress(server, beta, world, pending, fam):
    """Jobs and exports: the same checks, once their handlers land."""
    if pending[fam]:
        pytest.skip(f"{fam} endpoints still answer 500 'not yet'")
    checked = check_id_paths(server, beta, world, fam) + check_lists(server, beta, world, fam)
    assert checked, f"no {fam} endpoints in the OpenAPI document"


def input_refs(doc):
    schemas = doc["components"]["schemas"]
    out = []
    for name, sch in schemas.items():
        if not name.endswith("Input"):
            continue
        for field, fs in sch.get("properties", {}).items():
            m = re.match(r"\^(\w+)_", fs.get("pattern", ""))
            if m:
                out.append((name[:-5], field, m.group(1)))
    return out


def test_beta_cannot_write_into_alpha(server, alpha, beta, world):
    a = world["a"]
    by_prefix = {PREFIX[o]: a[o]["id"] for o in OBJECTS}
    objects = {"Customer": "customers", "Contact": "contacts", "Deal": "deals", "Ticket": "tickets",
               "Activity": "activities", "User": "users", "Product": "products", "Unit": "units",
               "Pipeline": "pipelines", "Field": "fields", "Suggestion": "suggestions",
               "Approval": "approvals"}
    refs = input_refs(server.openapi.doc)
    assert len(refs) >= 15
    for schema, field, prefix in refs:
        obj = objects[schema]
        body = body_for(beta, obj)
        body[field] = by_prefix[prefix]
        assert_problem(beta.post(f"/api/v1/{obj}", body), 422, "validation-error", "/" + field)
        own = make(beta, obj)
        assert_problem(beta.patch(f"/api/v1/{obj}/{own['id']}", {field: by_prefix[prefix]}), 422,
                       "validation-error", "/" + field)
    body = body_for(beta, "users")
    body["unit_ids"] = [a["units"]["id"]]
    assert_problem(beta.post("/api/v1/users", body), 422, "validation-error", "/unit_ids")
    # a stage of alpha's pipeline by its key is checked against beta's pipeline
    assert_problem(beta.post("/api/v1/deals", {"name": "x", "stage": "signed"}), 422,
                   "validation-error", "/stage")


def test_tenant_id_in_a_body_is_refused(alpha, beta, world):
    name = unique("mass")
    for body in ({"name": name, "tenant_id": world["tenant_id"]},
                 {"name": name, "tenant_id": 1},
                 {"name": name, "id": world["a"]["customers"]["id"]}):
        key = next(k for k in body if k != "name")
        assert_problem(beta.post("/api/v1/customers", body), 422, "validation-error", "/" + key)
    own = world["b"]["customers"]
    assert_problem(beta.patch(f"/api/v1/customers/{own['id']}", {"tenant_id": world["tenant_id"]}),
                   422, "validation-error", "/tenant_id")
    for api in (alpha, beta):
        assert get_json(api, f"/api/v1/customers?name={name}")["data"] == []
    assert get_json(beta, f"/api/v1/customers/{own['id']}")["version"] == own["version"]


def test_natural_keys_are_per_tenant(alpha, beta, world):
    ext = world["a"]["searchable"]["external_id"]
    c = beta.create("customers", {"name": "same key", "external_id": ext})
    assert c["external_id"] == ext
    email = world["a"]["user"]["email"]
    u = beta.create("users", {"name": "same email", "email": email})
    assert u["email"] == email


def test_sessions_are_bound_to_their_tenant(server, alpha, beta, world):
    """alpha's user signs in to alpha; naming beta with alpha's password fails."""
    from helpers import session_from
    user = world["a"]["user"]
    api = Api(server.base, None, server.openapi, session_from())
    assert_problem(api.post("/api/v1/session", {"tenant": "beta", "email": user["email"],
                                                "password": user["password"]}),
                   401, "bad-credentials")
    r = api.post("/api/v1/session", {"tenant": "alpha", "email": user["email"],
                                     "password": user["password"]})
    assert r.status_code == 200 and r.json()["tenant"]["slug"] == "alpha"
    api.csrf = r.json()["csrf_token"]
    assert_problem(api.get(f"/api/v1/customers/{world['b']['customers']['id']}"), 404, "not-found")
    ids = [c["id"] for c in get_json(api, "/api/v1/customers?limit=200")["data"]]
    assert world["b"]["customers"]["id"] not in ids
