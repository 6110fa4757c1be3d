"""Workflow packs over HTTP: upload, scan, publish, before and after
handlers on a real write, rollback, permissions, isolation, hostile
archives."""
import pytest

from helpers import assert_problem, extra_tenant, add_user, sign_in, missing_id
from pack_helpers import (manifest, zip_pack, targz_pack, upload, publish, wait_for,
                          deliveries, folder_files)
from conftest import Api, unique

GUARD = """local M = {}

function M.check(event)
  local d = event.record
  if d.amount ~= nil and d.amount ~= axon.null and d.amount < 0 then
    axon.reject("amount cannot be negative", "amount")
  end
  if d.expected_close_date == nil or d.expected_close_date == axon.null then
    d.expected_close_date = "%(date)s"
  end
end

function M.note(event)
  axon.notes.add({ deal_id = event.record.id, subject = "%(subject)s",
                   body = "checked " .. event.record.name })
end

return M
"""


def guard_pack(name, version, date, subject):
    return zip_pack({
        "pack.lua": manifest(name, version, ["deals:read", "activities:write"],
                             [("deals.created", "before", "guard.check"),
                              ("deals.created", "after", "guard.note")]),
        "guard.lua": GUARD % {"date": date, "subject": subject},
    })


def notes_of(api, deal_id):
    r = api.get(f"/api/v1/activities?deal_id={deal_id}&kind=note")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def new_deal(api, **fields):
    body = {"name": unique("deal"), "amount": 100}
    body.update(fields)
    return api.create("deals", body)


def test_upload_publish_handlers_and_rollback(alpha):
    name = unique("guard")
    v1 = upload(alpha, guard_pack(name, "1.0.0", "2030-01-01", "guard v1"))
    assert v1["version"] == "1.0.0"
    assert v1["scan"]["passed"] is True and v1["scan"]["blocking"] == 0
    assert [f for f in v1["scan"]["findings"] if f["severity"] == "error"] == []
    assert v1["publishable"] is True
    assert sorted(f["path"] for f in v1["files"]) == ["guard.lua", "pack.lua"]
    pack_id = v1["pack_id"]
    assert alpha.get(f"/api/v1/packs/{pack_id}").json()["status"] == "draft"

    # nothing runs before publishing
    d0 = new_deal(alpha)
    assert d0["expected_close_date"] is None

    p = publish(alpha, pack_id, "1.0.0")
    assert p["status"] == "published" and p["published_version"] == "1.0.0"

    d1 = new_deal(alpha)
    assert d1["expected_close_date"] == "2030-01-01"          # before handler, same write
    notes = wait_for(lambda: notes_of(alpha, d1["id"]), what="the after handler's note")
    assert [n["subject"] for n in notes] == ["guard v1"]
    assert notes[0]["body"] == "checked " + d1["name"]
    assert notes[0]["created_by"] == v1["id"]                 # the pack version is the actor

    bad = alpha.post("/api/v1/deals", {"name": unique("deal"), "amount": -5})
    body = assert_problem(bad, 422, "rejected", "/amount")
    assert body["detail"] == "amount cannot be negative"

    v2 = upload(alpha, guard_pack(name, "2.0.0", "2031-06-30", "guard v2"))
    assert v2["pack_id"] == pack_id
    publish(alpha, pack_id, "2.0.0")
    d2 = new_deal(alpha)
    assert d2["expected_close_date"] == "2031-06-30"
    assert [n["subject"] for n in wait_for(lambda: notes_of(alpha, d2["id"]))] == ["guard v2"]

    r = alpha.post(f"/api/v1/packs/{pack_id}/rollback")
    assert r.status_code == 200, r.text
    assert r.json()["published_version"] == "1.0.0"
    d3 = new_deal(alpha)
    assert d3["expected_close_date"] == "2030-01-01"
    assert [n["subject"] for n in wait_for(lambda: notes_of(alpha, d3["id"]))] == ["guard v1"]

    # every step is audited on the pack
    hist = alpha.get(f"/api/v1/packs/{pack_id}/history?limit=50").json()["data"]
    assert [h["action"] for h in reversed(hist)] == ["upload", "publish", "upload", "publish",
                                                     "rollback"]
    pubs = alpha.get(f"/api/v1/packs/{pack_id}").json()["publications"]
    assert [(p["action"], p["version"]) for p in reversed(pubs)] == \
        [("publish", "1.0.0"), ("publish", "2.0.0"), ("rollback", "1.0.0")]

    # the run log holds before and after runs, and the rejection
    def runs():
        data = alpha.get(f"/api/v1/packs/{pack_id}/runs?limit=100").json()["data"]
        return data if len(data) >= 7 else None
    data = wait_for(runs, what="run log")
    outcomes = sorted((r["phase"], r["outcome"]) for r in data)
    assert outcomes.count(("before", "ok")) == 3 and ("before", "rejected") in outcomes
    assert outcomes.count(("after", "ok")) == 3
    assert all(r["duration_ms"] >= 0 and r["version"] in ("1.0.0", "2.0.0") for r in data)

    # disable: nothing runs any more
    r = alpha.post(f"/api/v1/packs/{pack_id}/disable")
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert new_deal(alpha)["expected_close_date"] is None
    assert_problem(alpha.post(f"/api/v1/packs/{pack_id}/disable"), 409, "not-published")


def test_same_version_twice(alpha):
    name = unique("twice")
    archive = guard_pack(name, "1.0.0", "2030-01-01", "x")
    first = upload(alpha, archive)
    again = upload(alpha, archive, expect=200)                 # byte-identical: the same version
    assert again["id"] == first["id"]
    other = guard_pack(name, "1.0.0", "2030-01-02", "x")
    assert_problem(alpha.request("POST", "/api/v1/packs", data=other,
                                 headers={"Content-Type": "application/zip"}),
                   409, "version-exists")


def test_tar_gz_and_multipart(alpha):
    name = unique("targz")
    files = {"pack.lua": manifest(name, "0.1.0", ["deals:read"],
                                  [("deals.updated", "after", "m.run")]),
             "m.lua": "return { run = function(e) end }\n"}
    v = upload(alpha, targz_pack(files), content_type="application/gzip")
    assert v["version"] == "0.1.0"
    files["pack.lua"] = manifest(name, "0.2.0", ["deals:read"], [("deals.updated", "after", "m.run")])
    r = alpha.request("POST", "/api/v1/packs",
                      files={"file": ("p.zip", zip_pack(files), "application/zip")})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "0.2.0"
    assert r.headers["Location"] == f"/api/v1/packs/{v['pack_id']}/versions/0.2.0"


OVERREACH = """local M = {}
function M.close(event)
  axon.deals.update(event.record.id, { stage = "won" })
end
return M
"""


def test_permission_overreach_is_flagged_and_refused(alpha):
    name = unique("overreach")
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(name, "1.0.0", ["customers:read"],
                             [("customers.updated", "after", "bad.close")]),
        "bad.lua": OVERREACH}))
    errors = [f for f in v["scan"]["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["file"], f["line"]) for f in errors] == [("permission", "bad.lua", 3)]
    assert "deals:write" in errors[0]["message"]
    assert v["publishable"] is False
    body = assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish"),
                          422, "not-publishable")
    assert "1 blocking finding" in body["detail"]

    # The same call hidden from the scan is refused when it runs.
    hidden = """local M = {}
function M.check(event)
  local t = "de" .. "als"
  axon[t].update(event.record.id, { name = "x" })
end
return M
"""
    v2 = upload(alpha, zip_pack({
        "pack.lua": manifest(name, "2.0.0", ["customers:read"],
                             [("customers.created", "before", "bad.check")]),
        "bad.lua": hidden}))
    assert v2["publishable"] is True, v2["scan"]
    publish(alpha, v2["pack_id"], "2.0.0")
    try:
        r = alpha.post("/api/v1/customers", {"name": unique("c")})
        body = assert_problem(r, 422, "workflow-error")
        assert "permission denied: axon.deals.update needs the permission deals:write" in \
            body["detail"], body
        runs = wait_for(lambda: alpha.get(f"/api/v1/packs/{v2['pack_id']}/runs").json()["data"])
        assert runs[0]["outcome"] == "killed"
        assert runs[0]["location"] == "bad.lua:4"
    finally:
        alpha.post(f"/api/v1/packs/{v2['pack_id']}/disable")
    assert alpha.create("customers", {"name": unique("c")})["id"]


def test_scan_findings(alpha):
    src = """local M = {}
function M.run(event)
  counter = 1
  local f = io.open("/etc/passwd")
  while true do
    local x = 1
  end
  axon.deals.update(event.record.id, { stage_changed_at = "2020-01-01T00:00:00Z" })
  axon.customers.find("name = '" .. event.record.name .. "'")
end
return M
"""
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(unique("scan"), "1.0.0", ["deals:write", "customers:read"],
                             [("deals.updated", "after", "m.run"),
                              ("deals.created", "after", "m.missing")]),
        "m.lua": src}))
    rules = {(f["rule"], f["line"]) for f in v["scan"]["findings"] if f["severity"] == "error"}
    assert ("global-write", 3) in rules
    assert ("forbidden-global", 4) in rules
    assert ("unbounded-loop", 5) in rules
    assert ("protected-field", 8) in rules
    assert ("string-query", 9) in rules
    assert any(r == "handler-missing" for r, _ in rules)
    assert v["publishable"] is False


def test_example_packs_pass_their_tests(alpha):
    for name in ("ticket-router", "deal-followup"):
        v = upload(alpha, zip_pack(folder_files(name)), expect=(201))
        assert v["tests"]["failed"] == 0, v["tests"]
        assert v["tests"]["passed"] >= 4, v["tests"]
        assert v["scan"]["blocking"] == 0, v["scan"]
        assert v["publishable"] is True


def test_failing_pack_test_blocks_publishing(alpha):
    name = unique("failing")
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(name, "1.0.0", ["deals:read"], [("deals.created", "before", "m.run")]),
        "m.lua": "return { run = function(e) e.record.name = 'renamed' end }\n",
        "tests/m_test.lua": """local T = {}
function T.test_renames()
  local r = axon.test.emit({ type = "deals.created", record = { name = "a" } })
  axon.test.eq(r.record.name, "wrong")
end
function T.test_passes()
  local r = axon.test.emit({ type = "deals.created", record = { name = "a" } })
  axon.test.eq(r.record.name, "renamed")
end
return T
"""}))
    t = v["tests"]
    assert (t["passed"], t["failed"]) == (1, 1)
    failed = [x for x in t["results"] if x["outcome"] == "failed"][0]
    assert failed["name"] == "test_renames"
    assert failed["error"] == 'tests/m_test.lua:4: expected "wrong", got "renamed"'
    assert v["publishable"] is False
    assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish"), 422,
                   "not-publishable")


def test_settings_and_unit_scope(alpha):
    name = unique("scoped")
    pack = zip_pack({
        "pack.lua": manifest(name, "1.0.0", ["tickets:read"],
                             [("tickets.created", "before", "m.tag")],
                             settings='settings = { prefix = { type = "string", default = "[A]" } },'),
        "m.lua": "return { tag = function(e) e.record.subject = axon.settings.prefix .. ' ' .. e.record.subject end }\n"})
    v = upload(alpha, pack)
    unit = alpha.create("units", {"name": unique("unit")})
    other = alpha.create("units", {"name": unique("unit")})
    assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish",
                              {"settings": {"prefix": 5}}), 422, "invalid-settings", "/settings/prefix")
    assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish",
                              {"settings": {"nope": "x"}}), 422, "invalid-settings", "/settings/nope")
    assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish",
                              {"scope": "unit"}), 422, "invalid-scope")
    assert_problem(alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish",
                              {"color": "red"}), 422, "unknown-field", "/color")
    p = publish(alpha, v["pack_id"], "1.0.0",
                {"scope": "unit", "unit_id": unit["id"], "settings": {"prefix": "[B]"}})
    assert (p["scope"], p["unit_id"], p["settings"]) == ("unit", unit["id"], {"prefix": "[B]"})
    try:
        inside = alpha.create("tickets", {"subject": "help", "unit_id": unit["id"]})
        outside = alpha.create("tickets", {"subject": "help", "unit_id": other["id"]})
        assert inside["subject"] == "[B] help"
        assert outside["subject"] == "help"
    finally:
        alpha.post(f"/api/v1/packs/{v['pack_id']}/disable")


def test_before_handler_changes_are_validated(alpha):
    name = unique("sneaky")
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(name, "1.0.0", ["contacts:read"],
                             [("contacts.created", "before", "m.run")]),
        "m.lua": """return { run = function(e)
  if e.record.name == "bad-type" then e.record.email = 42 end
  if e.record.name == "unknown" then e.record.favourite = "x" end
end }
"""}))
    publish(alpha, v["pack_id"], "1.0.0")
    try:
        body = assert_problem(alpha.post("/api/v1/contacts", {"name": "bad-type"}), 422,
                              "workflow-error", "/email")
        assert name in body["detail"]
        assert_problem(alpha.post("/api/v1/contacts", {"name": "unknown"}), 422,
                       "workflow-error", "/favourite")
        assert alpha.create("contacts", {"name": "fine"})["name"] == "fine"
    finally:
        alpha.post(f"/api/v1/packs/{v['pack_id']}/disable")


def test_hostile_archives(alpha):
    def post(data, ctype="application/zip"):
        return alpha.request("POST", "/api/v1/packs", data=data, headers={"Content-Type": ctype})
    assert_problem(post(b"this is not an archive"), 422, "invalid-pack")
    assert_problem(post(b""), 400)
    slip = zip_pack({"pack.lua": manifest("slip", "1.0.0"), "../evil.lua": "return {}"})
    body = assert_problem(post(slip), 422, "invalid-pack")
    assert any(".." in e["pointer"] for e in body["errors"]), body
    assert_problem(post(zip_pack({"pack.lua": "while true do end"})), 422, "invalid-pack")
    assert_problem(post(zip_pack({"pack.lua": "return 42"})), 422, "invalid-pack")
    assert_problem(post(zip_pack({"pack.lua": manifest("bin", "1.0.0"),
                                  "x.lua": b"\x1bLuaT\x00\x19\x93"})), 422, "invalid-pack")
    assert_problem(post(b"x" * (8 * 1024 * 1024 + 1)), 413)
    body = assert_problem(post(zip_pack({"pack.lua": manifest("Bad Name", "1.0.0")})), 422,
                          "invalid-pack", "/name")


def test_packs_are_admin_only_and_isolated(server, alpha, beta):
    v = upload(alpha, guard_pack(unique("iso"), "1.0.0", "2030-01-01", "iso"))
    pid = v["pack_id"]
    for path in (f"/api/v1/packs/{pid}", f"/api/v1/packs/{pid}/versions/1.0.0",
                 f"/api/v1/packs/{pid}/runs", f"/api/v1/packs/{pid}/deliveries",
                 f"/api/v1/packs/{pid}/history",
                 f"/api/v1/packs/{pid}/versions/1.0.0/file?path=guard.lua"):
        assert alpha.get(path).status_code == 200, path
        assert_problem(beta.get(path), 404)
    for path in (f"/api/v1/packs/{pid}/versions/1.0.0/publish", f"/api/v1/packs/{pid}/disable",
                 f"/api/v1/packs/{pid}/rollback"):
        assert_problem(beta.post(path, {}), 404)
    assert_problem(beta.request("POST", f"/api/v1/packs/{pid}/versions/1.0.0/replay",
                                json_body=[{"type": "deals.created", "record": {"name": "x"}}]),
                   404)
    assert pid not in [p["id"] for p in beta.get("/api/v1/packs").json()["data"]]
    assert_problem(beta.post(f"/api/v1/deliveries/{missing_id('dlv')}/retry"), 404)
    sales = sign_in(server, server.tenants["alpha"]["slug"], **_creds(add_user(alpha, "sales")))
    assert_problem(sales.get("/api/v1/packs"), 403)
    assert_problem(sales.request("POST", "/api/v1/packs", data=b"x",
                                 headers={"Content-Type": "application/zip"}), 403)
    f = alpha.get(f"/api/v1/packs/{pid}/versions/1.0.0/file?path=guard.lua").json()
    assert f["content"].startswith("local M = {}")
    assert_problem(alpha.get(f"/api/v1/packs/{pid}/versions/1.0.0/file?path=nope.lua"), 404)
    assert_problem(alpha.get(f"/api/v1/packs/{pid}/versions/9.9.9"), 404)
    assert_problem(alpha.get(f"/api/v1/packs/{pid}/versions/..%2f..%2fx"), 404)


def _creds(user):
    return {"email": user["email"], "password": user["password"]}


def test_workflow_budget_settings(alpha):
    r = alpha.get("/api/v1/settings/workflow-budget")
    assert r.status_code == 200
    assert r.json()["default_before"]["instructions"] == 1000000
    r = alpha.request("PUT", "/api/v1/settings/workflow-budget",
                      json_body={"after": {"instructions": 20000000}})
    assert r.status_code == 200, r.text
    assert alpha.get("/api/v1/settings/workflow-budget").json()["override"] == \
        {"after": {"instructions": 20000000}}
    assert_problem(alpha.request("PUT", "/api/v1/settings/workflow-budget",
                                 json_body={"after": {"instructions": -1}}), 422)
    assert_problem(alpha.request("PUT", "/api/v1/settings/workflow-budget",
                                 json_body={"during": {}}), 422, "unknown-field")
    r = alpha.request("PUT", "/api/v1/settings/workflow-budget", json_body={})
    assert r.status_code == 200
    assert alpha.get("/api/v1/settings/workflow-budget").json()["override"] == {}


def test_pack_changes_are_admin_only(server, alpha):
    from helpers import add_key
    v = upload(alpha, guard_pack(unique("admins"), "1.0.0", "2030-01-01", "x"))
    pid = v["pack_id"]
    for scopes in ("read", "read write"):                 # read_only and manager
        api = Api(server.base, add_key(alpha, scopes)["token"], server.openapi)
        for method, path, body in (
                ("POST", f"/api/v1/packs/{pid}/versions/1.0.0/publish", {}),
                ("POST", f"/api/v1/packs/{pid}/versions/1.0.0/replay",
                 [{"type": "deals.created", "record": {"name": "x"}}]),
                ("POST", f"/api/v1/packs/{pid}/disable", {}),
                ("POST", f"/api/v1/packs/{pid}/rollback", {}),
                ("POST", f"/api/v1/deliveries/{missing_id('dlv')}/retry", {}),
                ("PUT", "/api/v1/settings/workflow-budget", {})):
            assert_problem(api.request(method, path, json_body=body), 403, "forbidden")
        assert_problem(api.request("POST", "/api/v1/packs", data=zip_pack({"a.lua": ""}),
                                   headers={"Content-Type": "application/zip"}), 403, "forbidden")
    assert alpha.get(f"/api/v1/packs/{pid}").json()["status"] == "draft"


def test_rollback_target_survives_disable_and_republish(alpha):
    name = unique("rb")
    upload(alpha, guard_pack(name, "1.0.0", "2030-01-01", "a"))
    v2 = upload(alpha, guard_pack(name, "2.0.0", "2030-01-02", "b"))
    pid = v2["pack_id"]
    publish(alpha, pid, "1.0.0")
    publish(alpha, pid, "2.0.0")
    alpha.post(f"/api/v1/packs/{pid}/disable")
    p = publish(alpha, pid, "2.0.0")
    assert p["rollback_to"] == "1.0.0"
    r = alpha.post(f"/api/v1/packs/{pid}/rollback")
    assert r.status_code == 200 and r.json()["published_version"] == "1.0.0"
    assert r.json()["rollback_to"] == "2.0.0"
    alpha.post(f"/api/v1/packs/{pid}/disable")


def test_required_settings_and_list_types(alpha):
    pack = zip_pack({
        "pack.lua": manifest(unique("req"), "1.0.0", ["tickets:read"],
                             [("tickets.created", "before", "m.run")],
                             settings='settings = { team = { type = "string", required = true },'
                                      ' tags = { type = "list", default = {} },'
                                      ' days = { type = "number" } },'),
        "m.lua": "return { run = function(e) e.record.type = axon.settings.team .. "
                 "'/' .. tostring(axon.settings.days or 2) end }\n"})
    v = upload(alpha, pack)
    url = f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/publish"
    assert_problem(alpha.post(url, {}), 422, "invalid-settings", "/settings/team")
    assert_problem(alpha.post(url, {"settings": {"team": "x", "tags": [1, 2]}}), 422,
                   "invalid-settings", "/settings/tags")
    publish(alpha, v["pack_id"], "1.0.0", {"settings": {"team": "north"}})
    try:
        t = alpha.create("tickets", {"subject": "x"})
        assert t["type"] == "north/2"                 # an unset setting reads as nil
    finally:
        alpha.post(f"/api/v1/packs/{v['pack_id']}/disable")


def test_before_handlers_cannot_queue_calls(alpha):
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(unique("mail"), "1.0.0", ["email:send"],
                             [("contacts.created", "before", "m.run")]),
        "m.lua": "return { run = function(e) axon.email.send({ to = 'a@example.com', "
                 "subject = 'hi', body = 'x' }) end }\n"}))
    publish(alpha, v["pack_id"], "1.0.0")
    try:
        body = assert_problem(alpha.post("/api/v1/contacts", {"name": unique("c")}), 422,
                              "workflow-error")
        assert "cannot write records or queue calls" in body["detail"]
    finally:
        alpha.post(f"/api/v1/packs/{v['pack_id']}/disable")


def test_same_files_zipped_differently_are_the_same_version(alpha):
    files = {"pack.lua": manifest(unique("same"), "1.0.0", ["deals:read"],
                                  [("deals.updated", "after", "m.run")]),
             "m.lua": "return { run = function(e) end }\n"}
    first = upload(alpha, zip_pack(files))
    again = upload(alpha, targz_pack(files), expect=200, content_type="application/gzip")
    assert again["id"] == first["id"]


def test_non_ascii_file_names(alpha):
    """Python's zipfile (like macOS and Windows tools) marks names as UTF-8."""
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(unique("utf8"), "1.0.0", ["deals:read"],
                             [("deals.updated", "after", "m.run")]),
        "m.lua": "return { run = function(e) end }\n",
        "说明.md": "# 说明\n"}))
    assert "说明.md" in [f["path"] for f in v["files"]]
