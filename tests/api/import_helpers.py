"""Helpers for the import, export and demo tests: uploading CSV files to
POST /api/v1/imports, waiting for the job (and recording the progress it
showed on the way), reading the shared data sets with Python's csv module
to know the expected values, and counting records through the list API."""
import csv
import io
import json
import os
import time

from conftest import REPO_DATA, SHARED_DATA

PIPELINE_DIR = os.path.join(SHARED_DATA, "crm_sales_opportunities")
TICKETS_CSV = os.path.join(SHARED_DATA, "support_tickets_en", "customer_support_tickets.csv")
REVIEWS_CSV = os.path.join(SHARED_DATA, "zh_sentiment", "waimai_10k.csv")
COMPLAINTS_CSV = os.path.join(SHARED_DATA, "complaints_en_real",
                              "Comcast_telecom_complaints_data.csv")
MAPPINGS = os.path.join(REPO_DATA, "mappings")


def mapping(name):
    """The options JSON of one of the demo's mappings, as a dict."""
    with open(os.path.join(MAPPINGS, name), encoding="utf-8") as f:
        return json.load(f)


def read_csv(path):
    """All records of a CSV (BOM stripped) as dicts, by Python's csv module."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def pipeline(name):
    return read_csv(os.path.join(PIPELINE_DIR, name))


def upload(api, data, options, filename=None, raw=False, **kw):
    """POST /api/v1/imports: multipart (`file` + `options`) by default, or
    the CSV as a text/csv body with ?options= (raw=True). `data` is bytes
    or a path; `options` a dict or a JSON text (sent as is)."""
    if isinstance(data, str):
        filename = filename or os.path.basename(data)
        with open(data, "rb") as f:
            data = f.read()
    filename = filename or "upload.csv"
    text = options if isinstance(options, str) else json.dumps(options, ensure_ascii=False)
    path = kw.pop("path", "/api/v1/imports")
    if raw:
        from urllib.parse import quote
        return api.request("POST", f"{path}?options={quote(text)}", data=data,
                           headers={"Content-Type": "text/csv"}, **kw)
    return api.request("POST", path, data={"options": text},
                       files={"file": (filename, io.BytesIO(data), "text/csv")}, **kw)


def wait_job(api, job_id, timeout=120, poll=0.02):
    """Poll GET /api/v1/jobs/{id} until the job ends; returns (final job,
    every distinct state seen on the way)."""
    seen = []
    deadline = time.time() + timeout
    while True:
        r = api.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        state = (job["status"], job["total"], job["done"], job["failed"], job["percent"])
        if not seen or seen[-1] != state:
            seen.append(state)
        if job["status"] in ("succeeded", "failed"):
            return job, seen
        assert time.time() < deadline, f"job {job_id} did not end in {timeout} s: {job}"
        time.sleep(poll)


def run_import(api, data, options, filename=None, raw=False, timeout=120):
    """Upload, check the 202 answer, wait for the end; returns (job, states)."""
    r = upload(api, data, options, filename=filename, raw=raw)
    assert r.status_code == 202, f"import refused: {r.status_code} {r.text[:800]}"
    job = r.json()
    assert r.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["object"] == "job" and job["kind"] == "import"
    assert job["status"] in ("queued", "running", "succeeded")
    return wait_job(api, job["id"], timeout=timeout)


def total(api, path):
    """The number of records a list query matches (?count=true)."""
    sep = "&" if "?" in path else "?"
    r = api.get(f"{path}{sep}count=true&limit=1")
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:300]}"
    return r.json()["total"]


def one(api, path):
    """The single record a list query matches."""
    r = api.get(path)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 1, f"{path}: expected one record, got {len(data)}"
    return data[0]


def job_errors(api, job_id):
    r = api.get(f"/api/v1/jobs/{job_id}/errors?limit=1000")
    assert r.status_code == 200, r.text
    return r.json()["data"]
