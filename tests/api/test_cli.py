"""The axon command line: help, tenants, users, API keys."""
import re
import subprocess

import requests

from conftest import AXON, Api, parse_admin, unique
from helpers import assert_problem, get_json, sign_in


def test_help():
    p = subprocess.run([AXON, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    for word in ("serve", "tenant create", "user add", "apikey create", "import", "export",
                 "migrate", "--rate-limit", "AXON_DB", "--durability"):
        assert word in p.stdout, word
    p = subprocess.run([AXON], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "usage: axon COMMAND" in p.stderr
    p = subprocess.run([AXON, "frobnicate"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    p = subprocess.run([AXON, "--no-such-flag", "serve"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2


def test_tenant_create_prints_a_key_that_works(server):
    name = unique("Gamma Corp")
    p = server.cli("tenant", "create", name)
    t = parse_admin(p.stdout)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
    assert t["slug"] == slug and t["email"] == f"admin@{slug}.example"
    assert "shown once" in p.stdout
    api = Api(server.base, t["key"], server.openapi)
    assert get_json(api, "/api/v1/tenant")["slug"] == slug
    assert get_json(api, "/api/v1/customers")["data"] == []
    assert api.create("customers", {"name": "first"})["version"] == 1
    # the printed admin password signs in
    me = sign_in(server, slug, t["email"], t["password"]).login
    assert me["role"] == "admin" and me["tenant"]["name"] == name
    # the tenant is listed
    listed = server.cli("tenant", "list").stdout
    assert slug in listed and name in listed


def test_second_tenant_with_the_same_name_fails(server):
    name = unique("dup")
    server.cli("tenant", "create", name)
    p = server.cli("tenant", "create", name, check=False)
    assert p.returncode == 1
    assert f"a tenant '{name}' exists already" in p.stderr
    assert "API key" not in p.stdout
    p = server.cli("tenant", "create", name.upper(), check=False)   # same slug
    assert p.returncode == 1 and "exists already" in p.stderr
    p = server.cli("tenant", "create", "x", "--slug", "Not A Slug", check=False)
    assert p.returncode == 1 and "slug" in p.stderr
    p = server.cli("tenant", "create", check=False)
    assert p.returncode == 2 and "usage" in p.stderr


def test_user_add(server):
    t = parse_admin(server.cli("tenant", "create", unique("users")).stdout)
    email = unique("mgr") + "@example.com"
    p = server.cli("user", "add", "--tenant", t["slug"], "--name", "Mia Manager", "--email", email,
                   "--role", "manager", "--password", "manager-pass-1")
    uid = re.fullmatch(r"user (usr_[0-9a-z]{20}) created\n", p.stdout).group(1)
    api = Api(server.base, t["key"], server.openapi)
    u = get_json(api, f"/api/v1/users/{uid}")
    assert (u["name"], u["email"], u["role"], u["active"]) == ("Mia Manager", email, "manager", True)
    session = sign_in(server, t["slug"], email, "manager-pass-1")
    assert session.login["role"] == "manager"
    # without a password one is made up and printed
    p = server.cli("user", "add", "--tenant", t["slug"], "--name", "Sam", "--email",
                   unique("s") + "@example.com")
    assert re.search(r"created; password: \S{12,}", p.stdout)
    history = get_json(api, f"/api/v1/users/{uid}/history")["data"]
    assert history[-1]["actor_type"] == "cli" and history[-1]["trigger"] == "cli"
    # refused input
    p = server.cli("user", "add", "--tenant", t["slug"], "--name", "X", "--email", "x@example.com",
                   "--role", "emperor", check=False)
    assert p.returncode == 1 and "/role" in p.stderr
    p = server.cli("user", "add", "--tenant", t["slug"], "--name", "Y", "--email", email, check=False)
    assert p.returncode == 1 and "email" in p.stderr
    p = server.cli("user", "add", "--tenant", "nosuch", "--name", "Z", "--email", "z@example.com",
                   check=False)
    assert p.returncode == 1 and "no such tenant" in p.stderr
    p = server.cli("user", "add", "--tenant", t["slug"], "--name", "W", "--email", "w@example.com",
                   "--password", "short", check=False)
    assert p.returncode == 1 and "10 characters" in p.stderr


def test_apikey_create(server):
    t = parse_admin(server.cli("tenant", "create", unique("keys")).stdout)
    p = server.cli("apikey", "create", "--tenant", t["slug"], "--name", "reporting", "--scopes", "read")
    m = re.fullmatch(r"API key (key_[0-9a-z]{20}) \(read\): (axk_\S+)\n\(shown once; Axon stores only its hash\)\n",
                     p.stdout)
    assert m, p.stdout
    api = Api(server.base, m.group(2), server.openapi)
    assert api.get("/api/v1/customers").status_code == 200
    assert_problem(api.post("/api/v1/customers", {"name": "x"}), 403, "forbidden")
    admin = Api(server.base, t["key"], server.openapi)
    listed = {k["id"]: k for k in get_json(admin, "/api/v1/api-keys")["data"]}
    assert listed[m.group(1)]["name"] == "reporting" and listed[m.group(1)]["scopes"] == "read"
    p = server.cli("apikey", "create", "--tenant", t["slug"])          # default: read write
    token = re.search(r": (axk_\S+)", p.stdout).group(1)
    assert Api(server.base, token, server.openapi).create("customers", {"name": "rw"})["version"] == 1
    p = server.cli("apikey", "create", "--tenant", t["slug"], "--scopes", "root", check=False)
    assert p.returncode == 1 and "scopes" in p.stderr
    p = server.cli("apikey", "create", check=False)
    assert p.returncode == 1 and "--tenant is required" in p.stderr
    p = server.cli("apikey", check=False)
    assert p.returncode == 2 and "usage" in p.stderr
    r = requests.get(server.base + "/api/v1/tenant", headers={"Authorization": "Bearer " + token})
    assert r.json()["slug"] == t["slug"]
