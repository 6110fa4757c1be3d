"""Helpers for intent dictionaries and models: uploads, training jobs, and
the small model the generic tests need a record of."""
import csv
import io
import os
import time

from conftest import SHARED_DATA

WAIMAI = os.path.join(SHARED_DATA, "zh_sentiment", "waimai_10k.csv")
SHOPPING = os.path.join(SHARED_DATA, "zh_sentiment", "online_shopping_9_cats.csv")
COMCAST = os.path.join(SHARED_DATA, "complaints_en_real", "Comcast_telecom_complaints_data.csv")

CSV = {"Content-Type": "text/csv"}


def dictionary_csv(rows, bom=False, encoding="utf-8"):
    """A term table: header intent,term,weight,lang and the rows."""
    text = "intent,term,weight,lang\r\n" + "".join(",".join(map(str, r)) + "\r\n" for r in rows)
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def upload_dictionary(api, data, expect=201, query="", **kw):
    r = api.request("POST", "/api/v1/intents/dictionaries" + query, data=data,
                    headers=kw.pop("headers", CSV), **kw)
    assert r.status_code == expect, f"dictionary upload: {r.status_code} {r.text[:800]}"
    return r.json()


def labelled_csv(rows, header=("text", "label")):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def start_training(api, data, options=None, expect=202, name="train.csv"):
    import json
    files = {"file": (name, data, "text/csv")}
    form = {"options": json.dumps(options or {})}
    r = api.request("POST", "/api/v1/models", files=files, data=form)
    assert r.status_code == expect, f"model upload: {r.status_code} {r.text[:800]}"
    return r.json()


def wait_job(api, job_id, timeout=120.0, seen=None):
    """Poll the job until it ends; `seen` collects every `done` observed."""
    deadline = time.time() + timeout
    while True:
        r = api.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if seen is not None:
            seen.append((job["done"], job["total"], job["percent"], job["status"]))
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.time() < deadline, f"job {job_id} still {job['status']} after {timeout}s"
        time.sleep(0.03)


def train(api, data, options=None):
    """Train and wait; returns the model as GET /api/v1/models/{id} shows it."""
    m = start_training(api, data, options)
    job = wait_job(api, m["job_id"])
    assert job["status"] == "succeeded", job
    r = api.get(f"/api/v1/models/{m['id']}")
    assert r.status_code == 200, r.text
    return r.json()


# Twenty short reviews, enough for a small model (generic tests need one).
TINY = [(t, "1") for t in ("很好吃", "送餐很快", "味道不错", "服务很好", "非常满意", "下次还点",
                           "分量足", "好评", "推荐", "很新鲜")] + \
       [(t, "0") for t in ("太难吃了", "送得太慢", "不新鲜", "服务差", "很失望", "再也不点了",
                           "太咸了", "差评", "凉了", "分量少")]


def tiny_model(api, **options):
    return train(api, labelled_csv(TINY), {"holdout_every": 0, "name": "tiny", **options})


def read_rows(path, text_col, label_col):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [(r[text_col], r[label_col]) for r in csv.DictReader(f)]
