"""Sandbox escapes from a published pack: each fails safely with a clear
error (the write is refused, 422), and the server keeps serving."""
import pytest

from helpers import assert_problem
from pack_helpers import manifest, zip_pack, upload, publish, wait_for
from conftest import unique

ATTACKS = r'''local M = {}
local forever = true
local attacks = {}
attacks.loadlib = function() local p = _G["pack" .. "age"]; return p.loadlib("libc.so.6", "system") end
attacks.dump = function() local dump = string["du" .. "mp"]; return load(dump(print), "x", "b") end
attacks.binary = function() return assert(load("\27LuaT\0\25\147\r\n\26\n", "x", "b")) end
attacks.io = function() return _G["i" .. "o"].open("/etc/passwd") end
attacks.execute = function() return os["exe" .. "cute"]("id") end
attacks.registry = function() return _G["deb" .. "ug"].getregistry() end
attacks.metatable = function() local g, sm = _G, setmetatable; sm(g, { __index = function() return 1 end }) end
attacks.stringmeta = function() local mt = getmetatable(""); mt.__index = {} end
attacks.rep = function() return string.rep("x", 100000000) end
attacks.grow = function() local t, i = {}, 0; while forever do i = i + 1; t[i] = { i } end end
attacks.loop = function() while forever do end end
attacks.pcall_loop = function() pcall(function() while forever do end end); return "survived" end
attacks.recursion = function() local function f(n) return 1 + f(n + 1) end; return f(1) end
attacks.coroutine = function()
  local co = coroutine.create(function() while forever do end end)
  coroutine.resume(co)
  return "survived"
end
attacks.rewire = function() local a = axon; a["custo" .. "mers"].get = function() return {} end end
function M.check(event)
  local attack = attacks[event.record.name]
  if attack then attack() end
end
return M
'''

EXPECT = {
    "loadlib": "'package' is not available in the sandbox",
    "dump": "attempt to call a nil value",
    "binary": "only text chunks can be loaded",
    "io": "'io' is not available in the sandbox",
    "execute": "attempt to call a nil value",
    "registry": "'debug' is not available in the sandbox",
    "metatable": "cannot change a protected metatable",
    "stringmeta": "attempt to index a boolean value",
    "rep": "memory budget",
    "grow": "budget of this run is used up",
    "loop": "instruction budget",
    "pcall_loop": "instruction budget",
    "recursion": ("stack overflow", "memory budget"),
    "coroutine": "instruction budget",
    "rewire": "read-only",
}


@pytest.fixture(scope="module")
def attack_pack(alpha):
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(unique("attacks"), "1.0.0", ["customers:read"],
                             [("customers.created", "before", "attacks.check")]),
        "attacks.lua": ATTACKS}))
    assert v["publishable"] is True, v["scan"]
    publish(alpha, v["pack_id"], "1.0.0")
    yield v
    alpha.post(f"/api/v1/packs/{v['pack_id']}/disable")


@pytest.mark.parametrize("attack", sorted(EXPECT))
def test_escape_fails_safely(alpha, attack_pack, attack):
    r = alpha.post("/api/v1/customers", {"name": attack})
    body = assert_problem(r, 422, "workflow-error")
    expect = EXPECT[attack] if isinstance(EXPECT[attack], tuple) else (EXPECT[attack],)
    assert any(e in body["detail"] for e in expect), body["detail"]
    # the server carries on, and the same state pool still serves
    assert alpha.get("/healthz").status_code == 200
    ok = alpha.create("customers", {"name": unique("after-" + attack)})
    assert ok["id"].startswith("cus_")


def test_escapes_are_in_the_run_log(alpha, attack_pack):
    alpha.post("/api/v1/customers", {"name": "loop"})
    runs = wait_for(lambda: [r for r in alpha.get(
        f"/api/v1/packs/{attack_pack['pack_id']}/runs?outcome=killed&limit=100").json()["data"]
        if r["error"].endswith("stopped: the instruction budget of this run is used up")],
        what="a run killed by the instruction budget in the log")
    assert runs[0]["instructions"] >= 1000000


def test_review_findings_stay_fixed(alpha):
    """Defects a review found: each case must stay refused."""
    from pack_helpers import manifest, zip_pack, upload
    # a finalizer in the manifest would run with hooks off: refused at upload
    r = alpha.request("POST", "/api/v1/packs", headers={"Content-Type": "application/zip"},
                      data=zip_pack({"pack.lua": "setmetatable({}, {__gc = function() "
                                                 "for j = 1, math.huge do end end})\n" +
                                                 manifest(unique("gc"), "1.0.0")}))
    assert_problem(r, 422, "invalid-pack")
    assert "__gc" in r.text
    # a shared table doubled 24 times is refused, not turned into gigabytes
    r = alpha.request("POST", "/api/v1/packs", headers={"Content-Type": "application/zip"},
                      data=zip_pack({"pack.lua": "local a = {1} for i = 1, 24 do a = {a, a} end "
                                                 "return a"}))
    assert_problem(r, 422, "invalid-pack")
    assert "too large to convert" in r.text


URLS = [("https://erp.example.com/api/orders", True),
        ("https://ERP.example.com/api/orders", True),
        ("https://erp.example.com/api/..", False),
        ("https://erp.example.com/api/%2e%2e/admin", False),
        ("https://erp.example.com/api/..%2fadmin", False),
        ("https://erp.example.com/api/.%2e/secret", False),
        ("https://erp.example.com/api/x y", False),
        ("https://erp.example.com@evil.net/api/", False),
        ("https://erp.example.com.evil.net/api/", False),
        ("https://erp.example.com/apix", False)]


@pytest.mark.parametrize("url,allowed", URLS)
def test_http_prefix_cannot_be_escaped(alpha, url, allowed):
    from pack_helpers import manifest, zip_pack, upload
    src = 'return { run = function(e) local u = e.record.name; axon.http.get(u) end }\n'
    name = unique("http")
    v = upload(alpha, zip_pack({
        "pack.lua": manifest(name, "1.0.0", ["http:https://erp.example.com/api/"],
                             [("deals.created", "after", "m.run")]),
        "m.lua": src}))
    r = alpha.post(f"/api/v1/packs/{v['pack_id']}/versions/1.0.0/replay",
                   [{"type": "deals.created", "record": {"name": url}}])
    assert r.status_code == 200, r.text
    run = r.json()["events"][0]["runs"][0]
    if allowed:
        assert run["outcome"] == "ok", run
        assert run["effects"][0]["target"] == url
    else:
        assert run["outcome"] == "killed", run
        assert "outside the pack's http permissions" in run["error"]
