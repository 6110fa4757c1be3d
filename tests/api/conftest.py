"""Test harness: start the real `axon` binary on a free port with a fresh
database, and talk HTTP to it.

Every response any test receives is checked against the server's own
OpenAPI document (the schema of the matched operation and status), so the
document is tested against real traffic all the time, not by a sample.

Fixtures:
  server     a running Axon (session scope) with tenants "alpha" and "beta"
  alpha      an Api client with alpha's admin key
  beta       an Api client with beta's admin key
  make_server(**flags)  start another server (e.g. with a low rate limit)
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import jsonschema
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AXON = os.path.join(ROOT, "axon")
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
REPO_DATA = os.path.join(ROOT, "data")


def run_cli(db, var, *args, check=True, timeout=300):
    """Run an axon subcommand against a database; returns CompletedProcess."""
    cmd = [AXON, "--db", db, "--var", var, "--log-level", "warn", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def parse_admin(out):
    """Pull the admin credentials out of `axon tenant create` output."""
    key = re.search(r"API key\s+(axk_\S+)", out).group(1)
    m = re.search(r"admin\s+(\S+)\s+password: (\S+)", out)
    slug = re.search(r"slug (\S+),", out).group(1)
    return {"key": key, "email": m.group(1), "password": m.group(2), "slug": slug}


class OpenApi:
    """Finds the response schema of an operation and validates bodies."""

    def __init__(self, doc):
        self.doc = doc
        self.routes = []
        for path, item in doc["paths"].items():
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"
            # literal paths win over templated ones
            self.routes.append((path.count("{"), re.compile(rx), path, item))
        self.routes.sort(key=lambda r: r[0])
        self.resolver = jsonschema.RefResolver.from_schema(doc)

    def check(self, method, path, status, body):
        for _, rx, template, item in self.routes:
            if rx.match(path):
                break
        else:
            return f"{method} {path}: no path in the OpenAPI document"
        op = item.get(method.lower())
        if op is None:
            if status == 405:
                return None
            return f"{method} {template}: no such operation in the OpenAPI document"
        responses = op["responses"]
        resp = responses.get(str(status)) or responses.get("default")
        if resp is None:
            return f"{method} {template} -> {status}: status not documented"
        content = resp.get("content")
        if not content or body is None:
            return None
        schema = next(iter(content.values())).get("schema")
        if not schema:
            return None
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            return (f"{method} {template} -> {status}: response does not match the OpenAPI "
                    f"schema at {list(e.path)}: {e.message[:300]}")
        return None


class Api:
    """A small HTTP client bound to one server and one credential."""

    def __init__(self, base, key=None, openapi=None, session=None):
        self.base = base
        self.key = key
        self.openapi = openapi
        self.s = session or requests.Session()
        self.csrf = None

    def request(self, method, path, json_body=None, data=None, headers=None, check_schema=True,
                **kw):
        h = dict(headers or {})
        if self.key and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.key
        if self.csrf and method not in ("GET", "HEAD") and "X-CSRF-Token" not in h:
            h["X-CSRF-Token"] = self.csrf
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
            h.setdefault("Content-Type", "application/json")
        r = self.s.request(method, self.base + path, data=data, headers=h, timeout=60, **kw)
        ctype = r.headers.get("Content-Type", "")
        if r.status_code >= 400 and r.status_code != 405 or ctype.startswith("application/problem"):
            assert ctype.startswith("application/problem+json"), \
                f"{method} {path} -> {r.status_code} with Content-Type {ctype!r}: {r.text[:300]}"
        if check_schema and self.openapi and "json" in ctype:
            body = r.json()
            problem = self.openapi.check(method, path.split("?")[0], r.status_code, body)
            assert problem is None, problem
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json_body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, json_body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create(self, objects, body, **kw):
        r = self.post(f"/api/v1/{objects}", body, **kw)
        assert r.status_code == 201, f"create {objects}: {r.status_code} {r.text[:500]}"
        return r.json()


class Server:
    def __init__(self, workdir, extra_args=(), env=None):
        self.workdir = workdir
        self.db = os.path.join(workdir, "axon.db")
        self.var = os.path.join(workdir, "var")
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "server.log")

    def cli(self, *args, **kw):
        return run_cli(self.db, self.var, *args, **kw)

    def start(self):
        port_file = os.path.join(self.workdir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        env = dict(os.environ)
        env.update(self.env or {})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [AXON, "--db", self.db, "--var", self.var, "--port", "0", "--port-file", port_file,
             "--static", os.path.join(ROOT, "static"), *self.extra_args, "serve"],
            stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(port_file) and open(port_file).read().strip():
                self.port = int(open(port_file).read())
                break
            if self.proc.poll() is not None:
                raise AssertionError("axon exited at start:\n" + open(self.log_path).read())
            time.sleep(0.05)
        else:
            raise AssertionError("axon did not start in 20 s")
        self.base = f"http://127.0.0.1:{self.port}"
        self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("axon not ready")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def new_tenant(server, name):
    out = server.cli("tenant", "create", name, "--admin-password", "correct-horse-" + name).stdout
    t = parse_admin(out)
    t["password"] = "correct-horse-" + name
    return t


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="axon-test-")
    yield d
    if os.environ.get("AXON_KEEP_TEST_DIR") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def server(workdir):
    s = Server(os.path.join(workdir, "main"), extra_args=["--rate-limit", "0"])
    os.makedirs(s.workdir)
    s.tenants = {"alpha": new_tenant(s, "alpha"), "beta": new_tenant(s, "beta")}
    s.start()
    s.openapi = OpenApi(requests.get(s.base + "/api/v1/openapi.json").json())
    yield s
    s.stop()
    assert "ERROR" not in open(s.log_path, errors="replace").read(), \
        "the server logged errors:\n" + open(s.log_path, errors="replace").read()[-3000:]


@pytest.fixture(scope="session")
def alpha(server):
    return Api(server.base, server.tenants["alpha"]["key"], server.openapi)


@pytest.fixture(scope="session")
def beta(server):
    return Api(server.base, server.tenants["beta"]["key"], server.openapi)


@pytest.fixture
def anon(server):
    return Api(server.base, None, server.openapi)


@pytest.fixture
def make_server(workdir):
    """Start extra servers with their own database; stopped after the test."""
    started = []

    def make(*extra_args, tenants=("alpha",)):
        s = Server(os.path.join(workdir, "s-" + uuid.uuid4().hex[:8]), extra_args=extra_args)
        os.makedirs(s.workdir)
        s.tenants = {t: new_tenant(s, t) for t in tenants}
        s.start()
        s.openapi = OpenApi(requests.get(s.base + "/api/v1/openapi.json").json())
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def unique(prefix="x"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
