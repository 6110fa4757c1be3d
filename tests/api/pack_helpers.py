"""Building workflow packs in memory and driving them over HTTP."""
import io
import os
import tarfile
import time
import zipfile

from conftest import ROOT

PACKS_DIR = os.path.join(ROOT, "lua", "packs")


def manifest(name, version="1.0.0", permissions=(), handlers=(), settings=None, extra=""):
    """pack.lua text for a manifest."""
    perms = ", ".join(f'"{p}"' for p in permissions)
    hs = ",\n    ".join(
        "{ event = %r, phase = %r, fn = %r%s }" % (h[0], h[1], h[2],
                                                   f", order = {h[3]}" if len(h) > 3 else "")
        for h in handlers).replace("'", '"')
    return (f'return {{\n  name = "{name}",\n  version = "{version}",\n'
            f'  permissions = {{ {perms} }},\n  handlers = {{\n    {hs}\n  }},\n'
            f'  {settings or ""}{extra}\n}}\n')


def zip_pack(files, top=None):
    """A .zip of {path: text}, optionally inside a top folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            z.writestr((top + "/" if top else "") + path,
                       text.encode() if isinstance(text, str) else text)
    return buf.getvalue()


def targz_pack(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def folder_files(name):
    """The files of an example pack under lua/packs/, as {path: bytes}."""
    base = os.path.join(PACKS_DIR, name)
    out = {}
    for dirpath, _, names in os.walk(base):
        for n in names:
            full = os.path.join(dirpath, n)
            out[os.path.relpath(full, base)] = open(full, "rb").read()
    return out


def upload(api, archive, expect=201, content_type="application/zip"):
    r = api.request("POST", "/api/v1/packs", data=archive,
                    headers={"Content-Type": content_type})
    assert r.status_code == expect, f"upload: {r.status_code} {r.text[:800]}"
    return r.json()


def publish(api, pack_id, version, body=None, expect=200):
    r = api.post(f"/api/v1/packs/{pack_id}/versions/{version}/publish", body or {})
    assert r.status_code == expect, f"publish: {r.status_code} {r.text[:800]}"
    return r.json()


def wait_for(fn, timeout=15.0, what="condition"):
    """Poll fn() until it returns a true value; return that value."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def deliveries(api, pack_id, status=None):
    q = f"?status={status}" if status else ""
    r = api.get(f"/api/v1/packs/{pack_id}/deliveries{q}")
    assert r.status_code == 200, r.text
    return r.json()["data"]
