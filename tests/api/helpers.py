"""Shared helpers for the API tests: problem assertions, raw sockets,
clients bound to their own loopback address, users with roles, record
factories for every object type, and extra tenants on the running server."""
import itertools
import json
import os
import socket
import threading
import uuid

import requests
from requests.adapters import HTTPAdapter

from conftest import Api, new_tenant, unique

OBJECTS = ["customers", "contacts", "products", "deals", "tickets", "activities", "users",
           "units", "pipelines", "fields", "suggestions", "approvals"]
PREFIX = {"customers": "cus", "contacts": "con", "products": "prd", "deals": "deal",
          "tickets": "tkt", "activities": "act", "users": "usr", "units": "bu",
          "pipelines": "pip", "fields": "fld", "suggestions": "sug", "approvals": "apr"}
ROLES = ["admin", "manager", "sales", "service", "read_only"]
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def missing_id(prefix):
    """A well-formed id that names nothing."""
    raw = uuid.uuid4().int
    return prefix + "_" + "".join(CROCKFORD[(raw >> (5 * i)) & 31] for i in range(20))


def assert_problem(r, status, type_=None, pointer=None):
    """The response is RFC 9457 problem+json with this status (and type and
    a field error at `pointer`); returns the problem body."""
    assert r.status_code == status, \
        f"expected {status}{' ' + type_ if type_ else ''}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), \
        r.headers.get("Content-Type")
    body = r.json()
    assert body["status"] == status, body
    assert body["request_id"] == r.headers["X-Request-Id"], body
    if type_ is not None:
        assert body["type"] == "/problems/" + type_, body
    if pointer is not None:
        pointers = [e["pointer"] for e in body.get("errors", [])]
        assert pointer in pointers, f"no field error at {pointer}: {body}"
    return body


# ---- clients from their own loopback address ------------------------------
# Sign-in is rate limited per address; each client that signs in gets its
# own 127.x.y.z so tests do not eat one another's budget.

_addresses = itertools.count(1)
_base = 10 + os.getpid() % 200


def next_address():
    n = next(_addresses)
    return f"127.{_base}.{n // 250}.{n % 250 + 2}"


class _SourceAddress(HTTPAdapter):
    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kw)


def session_from(address=None):
    s = requests.Session()
    s.mount("http://", _SourceAddress(address or next_address()))
    return s


def sign_in(server, tenant, email, password, address=None):
    """Sign in with a password; returns an Api using the session cookie and
    CSRF token (no API key)."""
    api = Api(server.base, None, server.openapi, session=session_from(address))
    r = api.post("/api/v1/session", {"tenant": tenant, "email": email, "password": password})
    assert r.status_code == 200, f"sign-in of {email} failed: {r.status_code} {r.text[:300]}"
    api.csrf = r.json()["csrf_token"]
    api.login = r.json()
    return api


def add_user(admin, role, password=None, **extra):
    """Create a user with a role and a password; returns the user record
    with "password" added."""
    password = password or "pw-" + uuid.uuid4().hex[:16]
    body = {"name": unique(role), "email": unique(role) + "@example.com", "role": role}
    body.update(extra)
    u = admin.create("users", body)
    r = admin.post(f"/api/v1/users/{u['id']}/password", {"password": password})
    assert r.status_code == 204, r.text
    u["password"] = password
    return u


def add_key(admin, scopes):
    r = admin.post("/api/v1/api-keys", {"name": unique("key"), "scopes": scopes})
    assert r.status_code == 201, r.text
    return r.json()


def extra_tenant(server, prefix="t"):
    """A new tenant on the running server (created with the CLI, like the
    fixture's); returns (tenant dict, admin Api)."""
    t = new_tenant(server, unique(prefix))
    return t, Api(server.base, t["key"], server.openapi)


# ---- valid records of every type --------------------------------------------

STAGES = [{"key": "new", "label": "New", "outcome": "open", "probability": 5},
          {"key": "talk", "label": "Talking", "outcome": "open", "probability": 50},
          {"key": "signed", "label": "Signed", "outcome": "won", "probability": 100},
          {"key": "gone", "label": "Gone", "outcome": "lost", "probability": 0}]


def body_for(api, obj, deps=None):
    """A valid create body for `obj`; references are created as needed
    (or taken from deps)."""
    deps = deps if deps is not None else {}

    def dep(name):
        if name not in deps:
            deps[name] = make(api, name, deps)
        return deps[name]["id"]

    if obj == "customers":
        return {"name": unique("Acme"), "sector": "retail", "revenue": 12.5, "employees": 40}
    if obj == "contacts":
        return {"name": unique("Ann"), "email": unique("ann") + "@example.com",
                "customer_id": dep("customers")}
    if obj == "products":
        return {"name": unique("GTX"), "sku": unique("sku"), "price": 99.5}
    if obj == "deals":
        return {"name": unique("deal"), "customer_id": dep("customers"), "amount": 1000}
    if obj == "tickets":
        return {"subject": unique("printer on fire"), "customer_id": dep("customers"),
                "channel": "email"}
    if obj == "activities":
        return {"kind": "note", "body": "called " + unique("x"), "customer_id": dep("customers")}
    if obj == "users":
        return {"name": unique("user"), "email": unique("u") + "@example.com", "role": "sales"}
    if obj == "units":
        return {"name": unique("unit")}
    if obj == "pipelines":
        return {"name": unique("pipe"), "stages": STAGES}
    if obj == "fields":
        return {"object": "customers", "name": "f_" + uuid.uuid4().hex[:10], "type": "text"}
    if obj == "suggestions":
        return {"title": unique("call them back"), "customer_id": dep("customers"),
                "evidence": [{"kind": "note", "text": "asked twice"}]}
    if obj == "approvals":
        return {"title": unique("discount 20%"), "object_type": "deals",
                "object_id": dep("deals"), "request": {"amount": 800}}
    raise KeyError(obj)


def make(api, obj, deps=None):
    return api.create(obj, body_for(api, obj, deps))


# A field each object lets a client change, a value for it, and whether a
# null clears it.
PATCHES = {
    "customers": ("tier", "A"),
    "contacts": ("title", "CTO"),
    "products": ("price", 12.5),
    "deals": ("amount", 2500),
    "tickets": ("type", "refund request"),
    "activities": ("subject", "follow-up"),
    "users": ("title", "Account executive"),
    "units": ("description", "the northern office"),
    "pipelines": ("external_id", None),   # None: a unique value is made up
    "fields": ("label", "Favourite colour"),
    "suggestions": ("status_reason", "not now"),
    "approvals": ("comment", "looks fine"),
}


def patch_for(obj):
    field, value = PATCHES[obj]
    return {field: value if value is not None else unique("ext")}


# ---- raw HTTP ---------------------------------------------------------------

def raw_http(port, data, timeout=10.0, host="127.0.0.1"):
    """Send raw bytes, read until the server closes or a full response with
    Content-Length arrived. Returns (status, headers dict lower-cased, body)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        return None, {}, buf
    status = int(lines[0].split()[1])
    if status == 100:   # 100 Continue, then the real response
        rest = body
        while b"\r\n\r\n" not in rest:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        head, _, body = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "-1"))
    while n < 0 or len(body) < n:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        body += chunk
    return status, headers, body


def get_json(api, path):
    r = api.get(path)
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:300]}"
    return r.json()


def all_pages(api, path, limit=None):
    """Follow `next` cursors; returns (records, number of pages)."""
    base = path + (("&" if "?" in path else "?") + f"limit={limit}" if limit else "")
    sep = "&" if "?" in base else "?"
    url, out, pages = base, [], 0
    while True:
        page = get_json(api, url)
        pages += 1
        out.extend(page["data"])
        if page["next"] is None:
            return out, pages
        assert page["data"], "a page with a next cursor must not be empty"
        url = base + sep + "after=" + requests.utils.quote(page["next"], safe="")
        assert pages < 1000


def run_threads(n, fn):
    """Run fn(i) in n threads; re-raise the first failure."""
    errors = []

    def wrap(i):
        try:
            fn(i)
        except BaseException as e:   # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def dumps(v):
    return json.dumps(v, ensure_ascii=False).encode()
