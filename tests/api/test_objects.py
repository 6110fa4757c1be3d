"""CRUD of every object type, references, custom fields, deal stages,
tickets and the customer timeline."""
import datetime
import re

import pytest

from conftest import unique
from helpers import (OBJECTS, PREFIX, all_pages, assert_problem, body_for, extra_tenant,
                     get_json, make, missing_id, patch_for)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("obj", OBJECTS)
def test_crud(alpha, obj):
    body = body_for(alpha, obj)
    r = alpha.post(f"/api/v1/{obj}", body)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert re.fullmatch(PREFIX[obj] + r"_[0-9a-z]{20}", rec["id"]), rec["id"]
    assert r.headers["Location"] == f"/api/v1/{obj}/{rec['id']}"
    assert r.headers["ETag"] == '"1"'
    assert rec["version"] == 1
    for k, v in body.items():
        if k != "stages":
            assert rec[k] == v, (k, rec[k], v)

    r = alpha.get(r.headers["Location"])
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    assert r.json() == rec

    # merge patch: the named field changes, the others stay
    patch = patch_for(obj)
    (field, value), = patch.items()
    r = alpha.patch(f"/api/v1/{obj}/{rec['id']}", patch, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after[field] == value
    assert after["version"] == 2 and r.headers["ETag"] == '"2"'
    for k in body:
        if k != field:
            assert after[k] == rec[k], k
    assert after["created_at"] == rec["created_at"]
    assert after["updated_at"] >= rec["updated_at"]

    # null clears
    r = alpha.patch(f"/api/v1/{obj}/{rec['id']}", {field: None})
    assert r.status_code == 200 and r.json()[field] is None and r.json()["version"] == 3
    assert get_json(alpha, f"/api/v1/{obj}/{rec['id']}")[field] is None

    r = alpha.delete(f"/api/v1/{obj}/{rec['id']}")
    assert r.status_code == 204 and r.content == b""
    assert_problem(alpha.get(f"/api/v1/{obj}/{rec['id']}"), 404, "not-found")
    assert_problem(alpha.delete(f"/api/v1/{obj}/{rec['id']}"), 404, "not-found")
    assert_problem(alpha.patch(f"/api/v1/{obj}/{rec['id']}", patch), 404, "not-found")


def test_patch_required_field_cannot_be_nulled(alpha):
    c = make(alpha, "customers")
    assert_problem(alpha.patch(f"/api/v1/customers/{c['id']}", {"name": None}), 422,
                   "validation-error", "/name")
    assert get_json(alpha, f"/api/v1/customers/{c['id']}")["name"] == c["name"]


def test_patch_without_change_keeps_version(alpha):
    c = make(alpha, "customers")
    r = alpha.patch(f"/api/v1/customers/{c['id']}", {"name": c["name"]})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.headers["ETag"] == '"1"'


def test_create_required_fields(alpha):
    body = assert_problem(alpha.post("/api/v1/tickets", {"priority": "high"}), 422,
                          "validation-error", "/subject")
    assert body["title"] == "Validation failed"
    assert_problem(alpha.post("/api/v1/activities", {"body": "x"}), 422, "validation-error", "/kind")


def test_field_values_are_validated(alpha):
    cases = [("customers", {"name": "x", "email": "not-an-email"}, "/email"),
             ("customers", {"name": "x", "kind": "alien"}, "/kind"),
             ("customers", {"name": "x", "employees": 1.5}, "/employees"),
             ("customers", {"name": "x" * 301}, "/name"),
             ("customers", {"name": "two\nlines"}, "/name"),
             ("products", {"name": "x", "currency": "dollars"}, "/currency"),
             ("products", {"name": "x", "active": "maybe"}, "/active"),
             ("deals", {"name": "x", "engage_date": "2024-13-45"}, "/engage_date"),
             ("tickets", {"subject": "x", "opened_at": "yesterday"}, "/opened_at"),
             ("users", {"name": "x", "email": unique("v") + "@example.com", "role": "emperor"}, "/role"),
             ("pipelines", {"name": "p", "stages": []}, "/stages"),
             ("pipelines", {"name": "p", "stages": [{"key": "Bad Key"}]}, "/stages/0"),
             ("fields", {"object": "customers", "name": "Bad-Name", "type": "text"}, "/name"),
             ("fields", {"object": "customers", "name": "c1", "type": "enum"}, "/options"),
             ("fields", {"object": "customers", "name": "c2", "type": "colour"}, "/type")]
    for obj, body, pointer in cases:
        assert_problem(alpha.post(f"/api/v1/{obj}", body), 422, "validation-error", pointer)


def test_values_are_normalised(alpha):
    c = alpha.create("customers", {"name": "n", "email": "Ops@Example.COM", "kind": "Person"})
    assert c["email"] == "Ops@example.com" and c["kind"] == "person"
    p = alpha.create("products", {"name": unique("p"), "currency": "eur", "price": "12.50"})
    assert p["currency"] == "EUR" and p["price"] == 12.5 and p["active"] is True
    t = alpha.create("tickets", {"subject": "s", "channel": "Social media"})
    assert t["channel"] == "social_media" and t["priority"] == "medium" and t["status"] == "open"


def test_unique_natural_key_conflict(alpha):
    ext = unique("ext")
    alpha.create("customers", {"name": "a", "external_id": ext})
    assert_problem(alpha.post("/api/v1/customers", {"name": "b", "external_id": ext}), 409,
                   "duplicate", "/external_id")


# ---- deletes of referenced records -------------------------------------------

def test_delete_customer_with_deals_is_409(alpha):
    c = make(alpha, "customers")
    d = alpha.create("deals", {"name": "d", "customer_id": c["id"]})
    body = assert_problem(alpha.delete(f"/api/v1/customers/{c['id']}"), 409, "in-use")
    assert "deals" in body["detail"]
    assert get_json(alpha, f"/api/v1/customers/{c['id']}")["id"] == c["id"]
    assert alpha.delete(f"/api/v1/deals/{d['id']}").status_code == 204
    assert alpha.delete(f"/api/v1/customers/{c['id']}").status_code == 204


def test_delete_other_referenced_records_is_409(alpha):
    deps = {}
    deal = make(alpha, "deals", deps)
    alpha.patch(f"/api/v1/deals/{deal['id']}", {"product_id": make(alpha, "products")["id"]})
    product_id = get_json(alpha, f"/api/v1/deals/{deal['id']}")["product_id"]
    assert_problem(alpha.delete(f"/api/v1/products/{product_id}"), 409, "in-use")

    unit = make(alpha, "units")
    user = alpha.create("users", {"name": "u", "email": unique("u") + "@example.com",
                                  "unit_ids": [unit["id"]]})
    assert_problem(alpha.delete(f"/api/v1/units/{unit['id']}"), 409, "in-use")
    c = alpha.create("customers", {"name": "owned", "owner_id": user["id"]})
    assert c["unit_id"] == unit["id"], "a record's unit defaults to its owner's first unit"
    assert_problem(alpha.delete(f"/api/v1/users/{user['id']}"), 409, "in-use")

    parent = make(alpha, "customers")
    alpha.create("customers", {"name": "child", "parent_id": parent["id"]})
    assert_problem(alpha.delete(f"/api/v1/customers/{parent['id']}"), 409, "in-use")


def test_default_pipeline_and_used_stages_cannot_go(alpha):
    default = [p for p in get_json(alpha, "/api/v1/pipelines?is_default=true")["data"]]
    assert len(default) == 1 and [s["key"] for s in default[0]["stages"]] == \
        ["prospecting", "engaging", "won", "lost"]
    assert_problem(alpha.delete(f"/api/v1/pipelines/{default[0]['id']}"), 409, "in-use")

    p = alpha.create("pipelines", {"name": unique("p"), "stages": [
        {"key": "a"}, {"key": "b", "outcome": "won"}]})
    assert p["stages"][0] == {"key": "a", "label": "a", "outcome": "open", "probability": None}
    d = alpha.create("deals", {"name": "d", "pipeline_id": p["id"], "stage": "b"})
    assert d["stage"] == "b"
    assert_problem(alpha.patch(f"/api/v1/pipelines/{p['id']}", {"stages": [{"key": "a"}]}),
                   409, "in-use")
    assert_problem(alpha.delete(f"/api/v1/pipelines/{p['id']}"), 409, "in-use")
    r = alpha.patch(f"/api/v1/pipelines/{p['id']}", {"stages": [{"key": "a"}, {"key": "b"},
                                                                 {"key": "c"}]})
    assert r.status_code == 200 and len(r.json()["stages"]) == 3


def test_one_default_pipeline(server):
    _, api = extra_tenant(server, "pipes")
    old = get_json(api, "/api/v1/pipelines?is_default=true")["data"][0]
    new = api.create("pipelines", {"name": "new", "is_default": True, "stages": [{"key": "x"}]})
    defaults = get_json(api, "/api/v1/pipelines?is_default=true")["data"]
    assert [p["id"] for p in defaults] == [new["id"]]
    assert get_json(api, f"/api/v1/pipelines/{old['id']}")["is_default"] is False
    d = api.create("deals", {"name": "d"})
    assert d["pipeline_id"] == new["id"] and d["stage"] == "x"


# ---- references ----------------------------------------------------------------

def ref_fields(openapi_doc):
    """(object, field, target prefix) for every single reference in the
    input schemas of the OpenAPI document."""
    out = []
    schemas = openapi_doc["components"]["schemas"]
    for obj in OBJECTS:
        name = {"activities": "Activity"}.get(obj, obj[:-1].capitalize())
        props = schemas[name + "Input"]["properties"]
        for field, sch in props.items():
            m = re.match(r"\^(\w+)_", sch.get("pattern", ""))
            if m:
                out.append((obj, field, m.group(1)))
    return out


def test_every_reference_to_a_missing_id_is_422(server, alpha):
    refs = ref_fields(server.openapi.doc)
    assert len(refs) >= 15, refs
    for obj, field, prefix in refs:
        body = body_for(alpha, obj)
        body[field] = missing_id(prefix)
        r = alpha.post(f"/api/v1/{obj}", body)
        assert_problem(r, 422, "validation-error", "/" + field)
        # and on update
        rec = make(alpha, obj)
        r = alpha.patch(f"/api/v1/{obj}/{rec['id']}", {field: missing_id(prefix)})
        assert_problem(r, 422, "validation-error", "/" + field)
    body = body_for(alpha, "users")
    body["unit_ids"] = [make(alpha, "units")["id"], missing_id("bu")]
    assert_problem(alpha.post("/api/v1/users", body), 422, "validation-error", "/unit_ids")


def test_reference_of_the_wrong_type_is_422(alpha):
    c = make(alpha, "customers")
    assert_problem(alpha.post("/api/v1/contacts", {"name": "x", "customer_id": make(alpha, "units")["id"]}),
                   422, "validation-error", "/customer_id")
    assert_problem(alpha.post("/api/v1/deals", {"name": "x", "contact_id": c["id"]}),
                   422, "validation-error", "/contact_id")


# ---- custom fields -----------------------------------------------------------------

@pytest.fixture(scope="module")
def custom(server):
    """A tenant of its own with one custom field of each type on customers."""
    t, api = extra_tenant(server, "custom")
    defs = [{"object": "customers", "name": "nickname", "type": "text", "label": "Nickname"},
            {"object": "customers", "name": "score", "type": "number"},
            {"object": "customers", "name": "since", "type": "date"},
            {"object": "customers", "name": "vip", "type": "bool"},
            {"object": "customers", "name": "colour", "type": "enum", "options": ["red", "green"]}]
    fields = [api.create("fields", d) for d in defs]
    return api, fields


def test_custom_fields_are_validated_on_write(custom):
    api, _ = custom
    c = api.create("customers", {"name": "a", "attrs": {
        "nickname": "Al", "score": "7.5", "since": "2024-03-01", "vip": "yes", "colour": "red"}})
    assert c["attrs"] == {"nickname": "Al", "score": 7.5, "since": "2024-03-01", "vip": True,
                          "colour": "red"}
    bad = [({"score": "lots"}, "/attrs/score"), ({"since": "March"}, "/attrs/since"),
           ({"vip": "perhaps"}, "/attrs/vip"), ({"colour": "blue"}, "/attrs/colour"),
           ({"nickname": {"a": 1}}, "/attrs/nickname"), ({"undeclared": 1}, "/attrs/undeclared")]
    for attrs, pointer in bad:
        assert_problem(api.post("/api/v1/customers", {"name": "b", "attrs": attrs}), 422,
                       "validation-error", pointer)
        assert_problem(api.patch(f"/api/v1/customers/{c['id']}", {"attrs": attrs}), 422,
                       "validation-error", pointer)
    assert_problem(api.post("/api/v1/customers", {"name": "b", "attrs": "text"}), 422,
                   "validation-error", "/attrs")


def test_custom_fields_merge_on_patch(custom):
    api, _ = custom
    c = api.create("customers", {"name": "m", "attrs": {"nickname": "M", "score": 1}})
    r = api.patch(f"/api/v1/customers/{c['id']}", {"attrs": {"score": 2, "vip": False}})
    assert r.status_code == 200 and r.json()["attrs"] == {"nickname": "M", "score": 2, "vip": False}
    r = api.patch(f"/api/v1/customers/{c['id']}", {"attrs": {"nickname": None}})
    assert r.json()["attrs"] == {"score": 2, "vip": False}
    r = api.patch(f"/api/v1/customers/{c['id']}", {"attrs": None})
    assert r.status_code == 200 and r.json()["attrs"] == {}, "merge patch: null clears attrs"
    c2 = api.create("customers", {"name": "no attrs", "attrs": None})
    assert c2["attrs"] == {}


def test_custom_fields_are_filterable(custom):
    api, _ = custom
    tag = unique("nick")
    a = api.create("customers", {"name": "fa", "attrs": {"nickname": tag, "score": 10,
                                                         "since": "2023-01-10", "vip": True,
                                                         "colour": "green"}})
    b = api.create("customers", {"name": "fb", "attrs": {"nickname": tag + "-b", "score": 20,
                                                         "since": "2024-06-01", "vip": False}})

    def ids(q):
        return [x["id"] for x in get_json(api, "/api/v1/customers?" + q + "&sort=name")["data"]]

    assert ids(f"attrs.nickname={tag}") == [a["id"]]
    assert ids(f"attrs.nickname[contains]={tag}") == [a["id"], b["id"]]
    assert ids(f"attrs.nickname[contains]={tag}&attrs.score[gte]=15") == [b["id"]]
    assert ids(f"attrs.nickname[contains]={tag}&attrs.since[lt]=2024-01-01") == [a["id"]]
    assert ids(f"attrs.nickname[contains]={tag}&attrs.vip=true") == [a["id"]]
    assert ids(f"attrs.nickname[contains]={tag}&attrs.colour[null]=true") == [b["id"]]
    assert_problem(api.get("/api/v1/customers?attrs.nosuch=1"), 400, "unknown-field")
    assert_problem(api.get("/api/v1/customers?attrs.score=abc"), 400, "bad-request")


def test_custom_field_definition_rules(custom):
    api, fields = custom
    score = next(f for f in fields if f["name"] == "score")
    # object, name and type are fixed once created
    for change in ({"type": "text"}, {"name": "score2"}, {"object": "deals"}):
        assert_problem(api.patch(f"/api/v1/fields/{score['id']}", change), 422, "validation-error",
                       "/" + next(iter(change)))
    api.create("customers", {"name": "has score", "attrs": {"score": 3}})
    assert_problem(api.delete(f"/api/v1/fields/{score['id']}"), 409, "in-use")
    r = api.patch(f"/api/v1/fields/{score['id']}", {"label": "Score"})
    assert r.status_code == 200 and r.json()["label"] == "Score"


def test_required_custom_field(server):
    _, api = extra_tenant(server, "req")
    api.create("fields", {"object": "contacts", "name": "badge", "type": "text", "required": True})
    assert_problem(api.post("/api/v1/contacts", {"name": "x"}), 422, "validation-error",
                   "/attrs/badge")
    c = api.create("contacts", {"name": "x", "attrs": {"badge": "B-1"}})
    assert_problem(api.patch(f"/api/v1/contacts/{c['id']}", {"attrs": {"badge": None}}), 422,
                   "validation-error", "/attrs/badge")


# ---- deals ---------------------------------------------------------------------------

def test_deal_stage_changes_are_recorded(alpha):
    c = make(alpha, "customers")
    before = now_utc() - datetime.timedelta(seconds=2)
    d = alpha.create("deals", {"name": "big one", "customer_id": c["id"], "amount": 10})
    assert d["stage"] == "prospecting"
    assert d["engage_date"] is None and d["close_date"] is None
    today = now_utc().date().isoformat()

    r = alpha.patch(f"/api/v1/deals/{d['id']}", {"stage": "Engaging"})
    assert r.status_code == 200
    assert r.json()["stage"] == "engaging" and r.json()["engage_date"] == today
    assert r.json()["close_date"] is None
    r = alpha.patch(f"/api/v1/deals/{d['id']}", {"stage": "won"})
    won = r.json()
    assert won["stage"] == "won" and won["close_date"] == today and won["engage_date"] == today
    assert_problem(alpha.patch(f"/api/v1/deals/{d['id']}", {"stage": "haggling"}), 422,
                   "validation-error", "/stage")

    stages = get_json(alpha, f"/api/v1/deals/{d['id']}/stages")
    assert [(s["from"], s["to"]) for s in stages["data"]] == \
        [(None, "prospecting"), ("prospecting", "engaging"), ("engaging", "won")]
    times = [parse_time(s["at"]) for s in stages["data"]]
    assert times == sorted(times) and before <= times[0] <= now_utc()
    assert stages["data"][-1]["at"] == won["stage_changed_at"]
    assert {s["actor"] for s in stages["data"]} == {"key_" + alpha.key.split("_")[1]}
    assert_problem(alpha.patch(f"/api/v1/deals/{d['id']}", {"stage_changed_at": "2020-01-01T00:00:00Z"}),
                   422, "validation-error", "/stage_changed_at")


def test_deal_dates_given_are_kept(alpha):
    d = alpha.create("deals", {"name": "imported", "stage": "lost", "engage_date": "2023-02-01",
                               "close_date": "2023-03-15"})
    assert d["engage_date"] == "2023-02-01" and d["close_date"] == "2023-03-15"
    assert d["stage_changed_at"] == "2023-03-15T00:00:00.000Z"


def test_deal_summary(server):
    _, api = extra_tenant(server, "summ")
    for stage, amount in [("prospecting", 10), ("prospecting", 5.5), ("won", 100)]:
        api.create("deals", {"name": "d", "stage": stage, "amount": amount})
    s = get_json(api, "/api/v1/deals/summary")
    assert s["total"] == 3
    assert sorted((x["stage"], x["count"], x["amount"]) for x in s["data"]) == \
        [("prospecting", 2, 15.5), ("won", 1, 100.0)]


# ---- tickets ---------------------------------------------------------------------------

def test_ticket_resolved_at(alpha):
    t0 = now_utc() - datetime.timedelta(seconds=2)
    t = alpha.create("tickets", {"subject": "broken"})
    assert t["status"] == "open" and t["resolved_at"] is None
    assert t0 <= parse_time(t["opened_at"]) <= now_utc()
    r = alpha.patch(f"/api/v1/tickets/{t['id']}", {"status": "pending"})
    assert r.json()["resolved_at"] is None
    r = alpha.patch(f"/api/v1/tickets/{t['id']}", {"status": "resolved"})
    resolved = r.json()["resolved_at"]
    assert resolved is not None and t0 <= parse_time(resolved) <= now_utc()
    r = alpha.patch(f"/api/v1/tickets/{t['id']}", {"status": "closed"})
    assert r.json()["resolved_at"] == resolved, "closing a resolved ticket keeps its resolution time"
    t2 = alpha.create("tickets", {"subject": "given", "status": "closed",
                                  "opened_at": "2024-01-01T10:00:00Z",
                                  "resolved_at": "2024-01-02T10:00:00Z"})
    assert t2["opened_at"] == "2024-01-01T10:00:00.000Z"
    assert t2["resolved_at"] == "2024-01-02T10:00:00.000Z"


# ---- timeline ---------------------------------------------------------------------------

def test_customer_timeline_in_time_order_with_paging(alpha):
    c = make(alpha, "customers")
    other = make(alpha, "customers")
    expected = []
    for i, when in enumerate(["2024-01-05T09:00:00Z", "2024-03-01T12:00:00Z",
                              "2023-12-24T18:30:00Z"]):
        a = alpha.create("activities", {"kind": "call", "subject": f"call {i}",
                                        "customer_id": c["id"], "occurred_at": when})
        expected.append(("activity", a["occurred_at"], a["id"]))
    for when in ["2024-02-10T08:00:00Z", "2024-01-05T09:00:00Z"]:
        t = alpha.create("tickets", {"subject": "t", "customer_id": c["id"], "opened_at": when})
        expected.append(("ticket", t["opened_at"], t["id"]))
    d = alpha.create("deals", {"name": "d", "customer_id": c["id"], "stage": "engaging",
                               "engage_date": "2024-02-01"})
    expected.append(("deal", d["stage_changed_at"], d["id"]))
    alpha.create("activities", {"kind": "note", "customer_id": other["id"]})
    # newest first; at the same time by type name
    expected.sort(key=lambda e: e[0])
    expected.sort(key=lambda e: e[1], reverse=True)

    items, pages = all_pages(alpha, f"/api/v1/customers/{c['id']}/timeline", limit=2)
    assert pages == 3
    assert [(i["type"], i["at"], i["record"]["id"]) for i in items] == expected
    whole = get_json(alpha, f"/api/v1/customers/{c['id']}/timeline")
    assert [i["record"]["id"] for i in whole["data"]] == [e[2] for e in expected]
    assert whole["next"] is None
    assert_problem(alpha.get(f"/api/v1/customers/{c['id']}/timeline?after=garbage"), 400, "bad-cursor")
    assert_problem(alpha.get(f"/api/v1/customers/{c['id']}/timeline?limit=0"), 400, "bad-request")
    assert_problem(alpha.get(f"/api/v1/customers/{missing_id('cus')}/timeline"), 404, "not-found")


def test_history_lists_changes_newest_first(alpha):
    c = make(alpha, "customers")
    alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "A"})
    alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "B", "sector": "food"})
    h = get_json(alpha, f"/api/v1/customers/{c['id']}/history")
    assert [e["action"] for e in h["data"]] == ["update", "update", "create"]
    assert h["data"][0]["changes"] == {"tier": ["A", "B"], "sector": ["retail", "food"]}
    assert h["data"][1]["changes"] == {"tier": [None, "A"]}
    page1 = get_json(alpha, f"/api/v1/customers/{c['id']}/history?limit=2")
    assert len(page1["data"]) == 2 and page1["next"] is not None
    page2 = get_json(alpha, f"/api/v1/customers/{c['id']}/history?limit=2&after={page1['next']}")
    assert [e["seq"] for e in page1["data"] + page2["data"]] == [e["seq"] for e in h["data"]]
    assert page2["next"] is None


def test_unknown_object_and_method(alpha):
    assert_problem(alpha.get("/api/v1/widgets", check_schema=False), 404, "not-found")
    assert_problem(alpha.post("/api/v1/widgets", {"name": "x"}, check_schema=False), 404,
                   "not-found")
    r = alpha.request("PUT", "/api/v1/customers", json_body={"name": "x"})
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert r.json()["type"] == "/problems/method-not-allowed"


def test_user_emails_are_unique_ignoring_case(alpha):
    """Sign-in matches e-mails ignoring case, so a second user whose e-mail
    differs only in case could never sign in: refused."""
    local = unique("Pat")
    u = alpha.create("users", {"name": "one", "email": f"{local}@example.com"})
    assert_problem(alpha.post("/api/v1/users", {"name": "two", "email": f"{local.lower()}@EXAMPLE.com"}),
                   409, "duplicate", "/email")
    other = make(alpha, "users")
    assert_problem(alpha.patch(f"/api/v1/users/{other['id']}", {"email": f"{local.upper()}@example.com"}),
                   409, "duplicate", "/email")
    r = alpha.patch(f"/api/v1/users/{u['id']}", {"email": f"{local.lower()}@example.com"})
    assert r.status_code == 200 and r.json()["email"] == f"{local.lower()}@example.com"


def test_text_lengths_count_characters(alpha):
    c = alpha.create("customers", {"name": "华" * 300})     # 900 bytes, 300 characters
    assert c["name"] == "华" * 300
    assert_problem(alpha.post("/api/v1/customers", {"name": "华" * 301}), 422, "validation-error", "/name")
    e = alpha.create("customers", {"name": "emoji 🦘 ok", "city": "Zürich"})
    assert get_json(alpha, f"/api/v1/customers/{e['id']}")["name"] == "emoji 🦘 ok"
    assert [x["id"] for x in get_json(alpha, "/api/v1/customers?city=Zürich")["data"]][:1] == [e["id"]]
