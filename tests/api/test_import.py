"""CSV import over HTTP (POST /api/v1/imports) and with `axon import`, on the
full public data sets in ../shared/data: the CRM pipeline with its quirks
(GTXPro vs GTX Pro, empty accounts, CRLF), the 8,469 support tickets with
newlines inside quotes, the 11,987 Chinese reviews and the search over them;
per-row errors, encodings and delimiters, option validation, upload limits,
roles and tenant isolation of jobs.

One tenant (`crm`) is loaded once for the module, the way a user would:
the demo's mappings from data/mappings, uploaded over HTTP."""
import collections
import csv
import io
import os
import pty
import re
import select
import subprocess
import time
import uuid

import pytest

from conftest import AXON, Api, run_cli, unique
from helpers import (add_key, add_user, assert_problem, all_pages, extra_tenant, get_json,
                     missing_id, sign_in)
from import_helpers import (COMPLAINTS_CSV, PIPELINE_DIR, REVIEWS_CSV, TICKETS_CSV, job_errors,
                            mapping, one, pipeline, read_csv, run_import, total, upload,
                            wait_job)

STAGES = {"Won": "won", "Lost": "lost", "Engaging": "engaging", "Prospecting": "prospecting"}


def product_name(csv_name):
    """The pipeline writes `GTXPro` where products.csv says `GTX Pro`."""
    return "GTX Pro" if csv_name == "GTXPro" else csv_name


# ---- the module's tenant, loaded once ------------------------------------

@pytest.fixture(scope="module")
def crm(server):
    """A fresh tenant with the whole pipeline, the full support tickets and
    the full Chinese reviews imported over HTTP with the demo's mappings.
    Returns {"api", "tenant", "jobs": label -> final job, "states": label ->
    the job states seen while polling}."""
    tenant, api = extra_tenant(server, "crm")
    for f in mapping("custom_fields.json"):
        api.create("fields", f)
    jobs, states = {}, {}

    def load(label, path, mapping_name):
        jobs[label], states[label] = run_import(api, path, mapping(mapping_name))

    load("products", os.path.join(PIPELINE_DIR, "products.csv"), "products.json")
    load("accounts", os.path.join(PIPELINE_DIR, "accounts.csv"), "accounts.json")
    load("managers", os.path.join(PIPELINE_DIR, "sales_teams.csv"), "sales_managers.json")
    load("agents", os.path.join(PIPELINE_DIR, "sales_teams.csv"), "sales_agents.json")
    load("deals", os.path.join(PIPELINE_DIR, "sales_pipeline.csv"), "sales_pipeline.json")
    load("deals again", os.path.join(PIPELINE_DIR, "sales_pipeline.csv"), "sales_pipeline.json")
    load("ticket customers", TICKETS_CSV, "ticket_customers.json")
    load("tickets", TICKETS_CSV, "tickets.json")
    load("reviews", REVIEWS_CSV, "waimai_reviews.json")
    return {"api": api, "tenant": tenant, "jobs": jobs, "states": states}


@pytest.fixture(scope="module")
def deals_csv():
    return pipeline("sales_pipeline.csv")


@pytest.fixture(scope="module")
def tickets_csv():
    return read_csv(TICKETS_CSV)


@pytest.fixture(scope="module")
def reviews_csv():
    return read_csv(REVIEWS_CSV)


def product_ids(api):
    return {p["name"]: p["id"] for p in get_json(api, "/api/v1/products?limit=200")["data"]}


# ---- 1. the pipeline -------------------------------------------------------

def test_the_pipeline_jobs_succeed_with_the_expected_counts(crm):
    expected = {   # label: (rows, created, failed)
        "products": (7, 7, 0),
        "accounts": (85, 85, 0),
        "managers": (35, 6, 0),        # 35 rows naming 6 managers
        "agents": (35, 35, 0),
        "deals": (8800, 8800, 0),
        "ticket customers": (8469, 8320, 0),   # 8,320 distinct e-mail addresses
        "tickets": (8469, 8469, 0),
        "reviews": (11987, 11987, 0),
    }
    for label, (rows, created, failed) in expected.items():
        job = crm["jobs"][label]
        assert job["status"] == "succeeded", (label, job)
        assert job["error"] is None, (label, job)
        assert (job["total"], job["done"], job["created"], job["failed"]) == \
            (rows, rows, created, failed), (label, job)
        assert job["created"] + job["updated"] + job["unchanged"] + job["failed"] == rows, job
        assert job["percent"] == 100.0, job
        assert job["started_at"] and job["finished_at"] >= job["started_at"], job


def test_pipeline_has_8800_deals_and_a_second_import_adds_none(crm):
    api = crm["api"]
    assert total(api, "/api/v1/deals") == 8800
    again = crm["jobs"]["deals again"]
    assert again["status"] == "succeeded"
    assert (again["total"], again["done"], again["created"], again["failed"]) == (8800, 8800, 0, 0)
    assert again["updated"] + again["unchanged"] == 8800
    assert again["unchanged"] == 8800, "the same file again changes nothing"
    # the count stays 8,800, and every opportunity id is there exactly once
    ids = collections.Counter(d["external_id"] for d in all_pages(api, "/api/v1/deals", 200)[0])
    assert len(ids) == 8800 and set(ids.values()) == {1}


def test_gtxpro_deals_are_linked_to_the_gtx_pro_product(crm, deals_csv):
    api = crm["api"]
    products = product_ids(api)
    assert sorted(products) == sorted(p["product"] for p in pipeline("products.csv"))
    assert "GTX Pro" in products and "GTXPro" not in products   # no product made up
    gtx_pro = products["GTX Pro"]
    assert sum(1 for d in deals_csv if d["product"] == "GTXPro") == 1480
    assert total(api, f"/api/v1/deals?product_id={gtx_pro}") == 1480
    # none dropped, none left without a product: per product, the CSV's counts
    assert total(api, "/api/v1/deals?product_id[null]=true") == 0
    want = collections.Counter(product_name(d["product"]) for d in deals_csv)
    for name, pid in products.items():
        s = get_json(api, f"/api/v1/deals/summary?product_id={pid}")
        assert s["total"] == want[name], name
    # the job reported no errors about it
    assert job_errors(api, crm["jobs"]["deals"]["id"]) == []


def test_deals_with_an_empty_account_have_no_customer(crm, deals_csv):
    api = crm["api"]
    want = {d["opportunity_id"] for d in deals_csv if d["account"] == ""}
    assert len(want) == 1425
    got, _ = all_pages(api, "/api/v1/deals?customer_id[null]=true", 200)
    assert {d["external_id"] for d in got} == want
    assert all(d["customer_id"] is None for d in got)
    assert total(api, "/api/v1/deals?customer_id[null]=false") == 8800 - 1425


def test_deals_per_stage_match_the_csv(crm, deals_csv):
    s = get_json(crm["api"], "/api/v1/deals/summary")
    by_stage = {row["stage"]: row for row in s["data"]}
    assert {k: v["count"] for k, v in by_stage.items()} == \
        {"won": 4238, "lost": 2473, "engaging": 1589, "prospecting": 500}
    assert s["total"] == 8800
    won = sum(int(d["close_value"]) for d in deals_csv if d["deal_stage"] == "Won")
    assert by_stage["won"]["amount"] == won == 10005534
    assert by_stage["lost"]["amount"] == 0     # every lost deal closed at 0


def test_one_opportunity_in_detail(crm, deals_csv):
    api = crm["api"]
    row = deals_csv[0]
    assert row["opportunity_id"] == "1C1I7A6R"
    d = one(api, "/api/v1/deals?external_id=1C1I7A6R")
    assert d["name"] == "1C1I7A6R" and d["external_id"] == "1C1I7A6R"
    assert d["stage"] == "won"
    assert d["amount"] == 1054
    assert d["currency"] == "USD"
    assert d["engage_date"] == "2016-10-20"
    assert d["close_date"] == "2017-03-01"
    owner = get_json(api, f"/api/v1/users/{d['owner_id']}")
    assert owner["name"] == "Moses Frase" and owner["role"] == "sales"
    assert owner["title"] == "Sales agent"
    team = {t["sales_agent"]: t for t in pipeline("sales_teams.csv")}["Moses Frase"]
    manager = get_json(api, f"/api/v1/users/{owner['manager_id']}")
    assert manager["name"] == team["manager"] and manager["role"] == "manager"
    unit = get_json(api, f"/api/v1/units/{owner['unit_ids'][0]}")
    assert unit["name"] == team["regional_office"]
    customer = get_json(api, f"/api/v1/customers/{d['customer_id']}")
    assert customer["name"] == "Cancity"
    account = {a["account"]: a for a in pipeline("accounts.csv")}["Cancity"]
    assert customer["sector"] == account["sector"]
    assert customer["revenue"] == float(account["revenue"])
    assert customer["employees"] == int(account["employees"])
    assert customer["country"] == account["office_location"]
    product = get_json(api, f"/api/v1/products/{d['product_id']}")
    assert product["name"] == row["product"] == "GTX Plus Basic"
    # the audit trail names the import job and the file
    hist = get_json(api, f"/api/v1/deals/{d['id']}/history")["data"]
    assert len(hist) == 1, "the second import changed nothing, so it wrote no audit row"
    assert hist[0]["action"] == "create"
    assert hist[0]["actor_type"] == "import_job"
    assert hist[0]["actor_id"] == crm["jobs"]["deals"]["id"]
    assert hist[0]["source"] == "import:sales_pipeline.csv"


def test_people_and_accounts_from_the_pipeline(crm):
    api = crm["api"]
    teams = pipeline("sales_teams.csv")
    assert total(api, "/api/v1/users?role=sales") == 35
    assert total(api, "/api/v1/users?role=manager") == len({t["manager"] for t in teams}) == 6
    assert sorted(u["name"] for u in get_json(api, "/api/v1/units")["data"]) == \
        ["Central", "East", "West"]
    # agents without deals are users all the same
    for name in ("Carl Lin", "Carol Thompson", "Elizabeth Anderson", "Mei-Mei Johns",
                 "Natalya Ivanova"):
        u = one(api, "/api/v1/users?name=" + name)
        assert total(api, f"/api/v1/deals?owner_id={u['id']}") == 0
    # subsidiaries point at their parent account
    accounts = pipeline("accounts.csv")
    subs = [a for a in accounts if a["subsidiary_of"]]
    assert len(subs) == 15
    ids = {c["name"]: c["id"] for c in
           all_pages(api, "/api/v1/customers?kind=company", 200)[0]}
    # the 85 accounts, and the reviews' platform (created by create_missing)
    assert set(ids) == {a["account"] for a in accounts} | {"外卖平台 (Waimai platform)"}
    for a in subs:
        c = get_json(api, f"/api/v1/customers/{ids[a['account']]}")
        assert c["parent_id"] == ids[a["subsidiary_of"]], a
    assert total(api, "/api/v1/customers?sector=technolgy") == 12   # the source's typo, kept


# ---- 2. progress -----------------------------------------------------------

def test_progress_shows_the_total_before_the_end(crm):
    states = crm["states"]["deals"]   # (status, total, done, failed, percent)
    running = [s for s in states if s[0] == "running" and s[1] > 0 and s[2] < s[1]]
    assert running, f"no state with a known total before the end was seen: {states}"
    assert all(s[1] == 8800 for s in running), running
    # done only grows, percent follows done / total
    dones = [s[2] for s in states]
    assert dones == sorted(dones), states
    for status, tot, done, failed, percent in states:
        assert tot in (0, 8800) and failed == 0
        assert percent == ((done * 1000 // tot) / 10 if tot else 0.0), (tot, done, percent)
        assert status != "succeeded" or percent == 100.0, states
    assert states[-1] == ("succeeded", 8800, 8800, 0, 100.0)


def test_jobs_list_shows_the_imports_newest_first(crm):
    api = crm["api"]
    listed = get_json(api, "/api/v1/jobs?limit=200")["data"]
    ours = [crm["jobs"][k]["id"] for k in ("products", "accounts", "managers", "agents", "deals",
                                           "deals again", "ticket customers", "tickets",
                                           "reviews")]
    assert [j["id"] for j in listed] == list(reversed(ours))
    by_id = {j["id"]: j for j in listed}
    assert by_id[crm["jobs"]["deals"]["id"]]["object_type"] == "deals"
    assert by_id[crm["jobs"]["reviews"]["id"]]["object_type"] == "activities"
    # paging
    page = get_json(api, "/api/v1/jobs?limit=4")
    assert [j["id"] for j in page["data"]] == list(reversed(ours))[:4] and page["next"]


def run_with_tty_stderr(args, timeout=60):
    """Run a command with stderr on a pseudo-terminal (so it draws its
    progress bar) and stdout on a pipe; returns (rc, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    err = b""
    deadline = time.time() + timeout
    while True:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:     # EIO: the child closed its end
                chunk = b""
            if not chunk and p.poll() is not None:
                break
            err += chunk
        elif p.poll() is not None:
            break
        assert time.time() < deadline, "the command did not end"
    out = p.stdout.read()
    p.wait()
    os.close(master)
    return p.returncode, out.decode(), err.decode(errors="replace")


@pytest.fixture(scope="module")
def cli_tenant(server):
    return extra_tenant(server, "cli")


def test_cli_import_draws_a_progress_bar_and_prints_a_summary(server, cli_tenant, tmp_path):
    tenant, api = cli_tenant
    m = tmp_path / "deals.json"
    m.write_text('{"object": "deals", "key": "external_id", "columns": {'
                 '"opportunity_id": ["external_id", "name"], "deal_stage": "stage", '
                 '"engage_date": "engage_date", "close_value": "amount"}}')
    csv_path = os.path.join(PIPELINE_DIR, "sales_pipeline.csv")
    t0 = time.time()
    rc, out, err = run_with_tty_stderr(
        [AXON, "--db", server.db, "--var", server.var, "--log-level", "warn", "import",
         "--tenant", tenant["slug"], "--file", csv_path, "--mapping", str(m)])
    assert rc == 0, (out, err)
    assert time.time() - t0 < 30
    # the bar: a label, #s, a percentage and the rows, redrawn in place with \r
    frames = [f for f in err.split("\r") if f.strip()]
    assert len(frames) >= 2, err
    assert re.search(r"sales_pipeline\.csv\s+\[#{30}\]\s+100%\s+8800/8800 rows, 0 failed", err), err
    assert re.search(r"\[[# ]{30}\]\s+\d+%", frames[0]), err
    # the summary on stdout
    assert re.search(r"^sales_pipeline\.csv\s+8800 rows in [\d.]+ s \(\d+ rows/s\): 8800 created, "
                     r"0 updated, 0 unchanged, 0 failed$", out.strip(), re.M), out
    assert total(api, "/api/v1/deals") == 8800
    # the CLI's job is a job like any other
    job = get_json(api, "/api/v1/jobs")["data"][0]
    assert (job["status"], job["total"], job["done"], job["created"], job["percent"]) == \
        ("succeeded", 8800, 8800, 8800, 100.0)
    # without a terminal: no bar, the same summary
    p = server.cli("import", "--tenant", tenant["slug"], "--file", csv_path, "--mapping", str(m))
    assert "[#" not in p.stderr
    assert "8800 rows in" in p.stdout and "0 created, 0 updated, 8800 unchanged, 0 failed" in p.stdout
    assert total(api, "/api/v1/deals") == 8800


def test_cli_import_reports_bad_rows_and_bad_options(server, cli_tenant, tmp_path):
    tenant, api = cli_tenant
    f = tmp_path / "units.csv"
    f.write_bytes(b"name,description\r\nNorth,fine\r\n,no name\r\nSouth,\"two\r\nlines\"\r\n"
                  b"Caf\xe9,not utf-8\r\nWest,fine too\r\n")
    p = server.cli("import", "--tenant", tenant["slug"], "--object", "units", "--file", str(f),
                   "--key", "name")
    assert p.returncode == 0, p.stderr     # the job ran; its bad rows are reported
    assert "5 rows in" in p.stdout and "2 created, 0 updated, 0 unchanged, 3 failed" in p.stdout
    # data row numbers: the quoted line break in row 3 does not shift row 4
    assert re.search(r"^    row 2, name: the key \(name\) is empty$", p.stdout, re.M), p.stdout
    assert re.search(r"^    row 3, description: must be a single line", p.stdout, re.M), p.stdout
    assert re.search(r"^    row 4, name: .*not valid UTF-8", p.stdout, re.M), p.stdout
    assert [u["name"] for u in get_json(api, "/api/v1/units?sort=name")["data"]] == \
        ["North", "West"]
    # options the server would refuse: exit 1, the pointer named, no job
    jobs_before = len(get_json(api, "/api/v1/jobs?limit=200")["data"])
    p = server.cli("import", "--tenant", tenant["slug"], "--object", "units", "--file", str(f),
                   "--key", "description", check=False)
    assert p.returncode == 1
    assert "/key" in p.stderr
    p = server.cli("import", "--tenant", tenant["slug"], "--object", "widgets", "--file", str(f),
                   check=False)
    assert p.returncode == 1 and "/object" in p.stderr
    assert len(get_json(api, "/api/v1/jobs?limit=200")["data"]) == jobs_before
    p = server.cli("import", "--tenant", tenant["slug"], check=False)
    assert p.returncode == 2 and "usage: axon import" in p.stderr


def test_cli_import_undoes_a_row_that_fails_after_writing(tmp_path):
    """Batches run in one savepoint; a row that fails after its first write
    (here: its audit row, refused by a trigger) rolls the batch back and the
    batch is written again row by row, so only that row is missing, every
    other row has its one audit row and the chain's numbers have no gap."""
    import sqlite3
    db, var = str(tmp_path / "axon.db"), str(tmp_path / "var")
    run_cli(db, var, "tenant", "create", "Redo")
    con = sqlite3.connect(db)
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit "
                "WHEN NEW.changes LIKE '%Unit 0003\"%' OR NEW.changes LIKE '%Unit 0700\"%' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    con.commit()
    f = tmp_path / "units.csv"
    f.write_text("name,description\n" +
                 "".join(f"Unit {i:04d},row {i}\n" for i in range(1, 1201)) +
                 "Unit 0001,a duplicate key: updates row 1\n")
    p = run_cli(db, var, "import", "--tenant", "redo", "--object", "units", "--file", str(f),
                "--key", "name")
    assert "1201 rows in" in p.stdout, p.stdout
    assert "1198 created, 1 updated, 0 unchanged, 2 failed" in p.stdout, p.stdout
    assert re.search(r"^    row 3: audit insert: refused by the test$", p.stdout, re.M), p.stdout
    assert re.search(r"^    row 700: audit insert: refused by the test$", p.stdout, re.M), p.stdout
    names = [r[0] for r in con.execute("SELECT name FROM units ORDER BY name")]
    assert len(names) == 1198 and "Unit 0003" not in names and "Unit 0700" not in names
    assert con.execute("SELECT description FROM units WHERE name='Unit 0001'").fetchone()[0] == \
        "a duplicate key: updates row 1"
    rows = con.execute("SELECT seq, object_id, action FROM audit WHERE object='units' "
                       "ORDER BY seq").fetchall()
    assert len(rows) == 1199
    seqs = [r[0] for r in con.execute("SELECT seq FROM audit ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    ids = {r[0] for r in con.execute("SELECT id FROM units")}
    assert {r[1] for r in rows} == ids
    con.close()


# ---- 3. tickets, reviews and search ----------------------------------------

def test_all_support_tickets_import_with_their_multiline_descriptions(crm, tickets_csv):
    api = crm["api"]
    assert len(tickets_csv) == 8469
    assert crm["jobs"]["tickets"]["failed"] == 0
    assert total(api, "/api/v1/tickets") == 8469
    multiline = [t for t in tickets_csv if "\n" in t["Ticket Description"]]
    assert len(multiline) == 6150
    for row in (multiline[0], multiline[len(multiline) // 2], multiline[-1]):
        t = one(api, "/api/v1/tickets?external_id=" + row["Ticket ID"])
        assert t["description"] == row["Ticket Description"]
        assert "\n\n" in t["description"]
        assert t["subject"] == row["Ticket Subject"]
    # ticket 1, field by field
    row = tickets_csv[0]
    t = one(api, "/api/v1/tickets?external_id=1")
    assert t["type"] == "Technical issue" and t["subject"] == "Product setup"
    assert t["status"] == "pending"                # "Pending Customer Response", mapped
    assert t["priority"] == "critical" and t["channel"] == "social_media"
    assert t["first_response_at"] == "2023-06-01T12:15:36.000Z"
    assert t["resolved_at"] is None and t["satisfaction"] is None
    assert t["attrs"] == {"product": "GoPro Hero", "purchase_date": "2021-03-22"}
    c = get_json(api, f"/api/v1/customers/{t['customer_id']}")
    assert c["email"] == row["Customer Email"] == "carrollallison@example.com"
    last = [r for r in tickets_csv if r["Customer Email"] == row["Customer Email"]][-1]
    assert c["name"] == last["Customer Name"] and c["kind"] == "person"
    assert c["attrs"] == {"age": int(last["Customer Age"]), "gender": last["Customer Gender"]}
    # statuses and priorities as in the file
    assert {s: total(api, f"/api/v1/tickets?status={s}") for s in ("pending", "open", "closed")} \
        == {"pending": 2881, "open": 2819, "closed": 2769}
    prio = collections.Counter(r["Ticket Priority"].lower() for r in tickets_csv)
    for p, n in prio.items():
        assert total(api, f"/api/v1/tickets?priority={p}") == n


def test_all_reviews_import_as_activities(crm, reviews_csv):
    api = crm["api"]
    assert len(reviews_csv) == 11987
    assert total(api, "/api/v1/activities") == 11987
    assert total(api, "/api/v1/activities?kind=review") == 11987
    platform = one(api, "/api/v1/customers?name=外卖平台 (Waimai platform)")
    assert total(api, f"/api/v1/activities?customer_id={platform['id']}") == 11987
    # the labels, through the value map, filtered by the custom enum field
    assert total(api, "/api/v1/activities?attrs.sentiment_label=positive") == 4000
    assert total(api, "/api/v1/activities?attrs.sentiment_label=negative") == 7987
    assert total(api, "/api/v1/activities?attrs.sentiment_label[in]=positive,negative") == 11987


def hit_text(hit):
    rec = hit["record"]
    return " ".join(str(rec.get(k) or "") for k in ("subject", "description", "resolution", "body",
                                                   "name", "type"))


def test_search_finds_chinese_words_in_the_reviews(crm, reviews_csv):
    api = crm["api"]
    n = sum("送餐" in r["review"] for r in reviews_csv)
    assert n == 1744
    hits = get_json(api, "/api/v1/search?q=送餐&limit=50")["data"]
    assert len(hits) == 50                          # more match than one page holds
    for h in hits:
        assert h["object"] == "activity"
        assert "送餐" in h["record"]["body"], h
        assert any(s["hit"] and s["text"] == "送餐" for s in h["snippet"]), h["snippet"]
    assert len({h["id"] for h in hits}) == 50
    # a word that only few reviews hold: every one of them, nothing else
    word = "味精"
    want = sorted(r["review"] for r in reviews_csv if word in r["review"])
    assert 0 < len(want) < 50
    got = get_json(api, f"/api/v1/search?q={word}&limit=50")["data"]
    assert sorted(h["record"]["body"] for h in got) == want
    # one character
    hits = get_json(api, "/api/v1/search?q=送&limit=50")["data"]
    assert len(hits) == 50
    assert all("送" in h["record"]["body"] for h in hits)


def test_search_finds_english_words_in_the_tickets(crm, tickets_csv):
    api = crm["api"]
    for word in ("refund", "battery"):
        assert sum(word in (r["Ticket Description"] + r["Ticket Subject"]).lower()
                   for r in tickets_csv) > 50
        hits = get_json(api, f"/api/v1/search?q={word}&limit=50")["data"]
        assert len(hits) == 50, word
        for h in hits:
            assert h["object"] == "ticket", h
            assert word in hit_text(h).lower(), (word, h)
            assert any(s["hit"] and s["text"].lower() == word for s in h["snippet"]), h["snippet"]
    # case does not matter
    a = [h["id"] for h in get_json(api, "/api/v1/search?q=Battery&limit=10")["data"]]
    b = [h["id"] for h in get_json(api, "/api/v1/search?q=battery&limit=10")["data"]]
    assert a == b and len(a) == 10


def test_other_tenants_find_none_of_it(crm, server, beta):
    fresh = extra_tenant(server, "nosy")[1]
    api = crm["api"]
    for q in ("送餐", "送", "refund", "battery", "Cancity", "carrollallison@example.com"):
        assert get_json(api, f"/api/v1/search?q={q}&limit=5")["data"], q
        assert get_json(fresh, f"/api/v1/search?q={q}&limit=50")["data"] == [], q
        for h in get_json(beta, f"/api/v1/search?q={q}&limit=50")["data"]:
            plural = {"activity": "activities", "ticket": "tickets", "customer": "customers",
                      "contact": "contacts"}[h["object"]]
            assert_problem(api.get(f"/api/v1/{plural}/{h['id']}"), 404)
    assert total(fresh, "/api/v1/deals") == 0
    assert get_json(fresh, "/api/v1/jobs")["data"] == []


# ---- 4. per-row errors -------------------------------------------------------

@pytest.fixture(scope="module")
def small(server):
    """A tenant with the pipeline's products and accounts, for small files."""
    tenant, api = extra_tenant(server, "rows")
    run_import(api, os.path.join(PIPELINE_DIR, "products.csv"), mapping("products.json"))
    run_import(api, os.path.join(PIPELINE_DIR, "accounts.csv"), mapping("accounts.json"))
    return tenant, api


BAD_ROWS = (
    b"opportunity_id,note,product,account,deal_stage,engage_date,close_date,close_value\r\n"
    b'GOOD0001,"a note\r\nover two lines",GTXPro,Cancity,Won,2017-01-02,2017-02-03,100\r\n'
    b"BAD00002,,GTX Pro,Cancity,Won,2017-02-30,2017-03-03,100\r\n"
    b"BAD00003,,GTX Pro,Cancity,Flying,2017-01-02,,\r\n"
    b"BAD00004,,Hoverboard,Cancity,Won,2017-01-02,2017-02-03,100\r\n"
    b",,GTX Pro,Cancity,Lost,2017-01-02,2017-02-03,0\r\n"
    b"BAD00006,,GTX Pro,Caf\xe9 \xff\xfe,Won,2017-01-02,2017-02-03,100\r\n"
    b'GOOD0007,"""quoted"", and, commas",MG Special,,Engaging,2017-05-06,,\r\n'
    b"BAD00008,,GTX Pro,Nowhere Inc,Won,2017-01-02,2017-02-03,12x\r\n"
)
BAD_OPTIONS = {
    "object": "deals", "key": "external_id",
    "columns": {"opportunity_id": ["external_id", "name"], "product": "product_id.name",
                "account": "customer_id.name", "deal_stage": "stage",
                "engage_date": "engage_date", "close_date": "close_date",
                "close_value": "amount"},
}


def test_bad_rows_are_reported_and_good_rows_imported(small):
    _, api = small
    job, _ = run_import(api, BAD_ROWS, BAD_OPTIONS, filename="mixed.csv")
    assert job["status"] == "succeeded", job
    assert (job["total"], job["done"], job["created"], job["failed"]) == (8, 8, 2, 6), job
    # the good rows
    g1 = one(api, "/api/v1/deals?external_id=GOOD0001")
    assert (g1["stage"], g1["amount"], g1["engage_date"], g1["close_date"]) == \
        ("won", 100, "2017-01-02", "2017-02-03")
    assert get_json(api, f"/api/v1/products/{g1['product_id']}")["name"] == "GTX Pro"
    assert get_json(api, f"/api/v1/customers/{g1['customer_id']}")["name"] == "Cancity"
    g7 = one(api, "/api/v1/deals?external_id=GOOD0007")
    assert (g7["stage"], g7["customer_id"], g7["amount"]) == ("engaging", None, None)
    assert total(api, "/api/v1/deals") == 2
    # the bad ones: data row numbers (the quoted line break does not shift
    # them), the column, and why
    errors = job_errors(api, job["id"])
    got = {(e["row"], e["field"]) for e in errors}
    assert got == {(2, "engage_date"), (3, "deal_stage"), (4, "product"), (5, "opportunity_id"),
                   (6, "account"), (8, "account"), (8, "close_value")}, errors
    msg = {(e["row"], e["field"]): e["message"] for e in errors}
    assert "2017-02-30" in msg[(2, "engage_date")]
    assert "prospecting, engaging, won, lost" in msg[(3, "deal_stage")]
    assert "Hoverboard" in msg[(4, "product")]
    assert "empty" in msg[(5, "opportunity_id")]
    assert "UTF-8" in msg[(6, "account")]
    assert "Nowhere Inc" in msg[(8, "account")]
    assert "12x" in msg[(8, "close_value")]
    # the same as CSV, for a spreadsheet
    r = api.get(f"/api/v1/jobs/{job['id']}/errors?format=csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["row", "field", "message"]
    assert [(int(a), b, c) for a, b, c in rows[1:]] == \
        [(e["row"], e["field"], e["message"]) for e in errors]
    # Accept: text/csv asks for the same
    r2 = api.get(f"/api/v1/jobs/{job['id']}/errors", headers={"Accept": "text/csv"})
    assert r2.content == r.content
    # paging through the JSON form
    page = get_json(api, f"/api/v1/jobs/{job['id']}/errors?limit=3")
    assert page["data"] == errors[:3] and page["next"]
    rest = get_json(api, f"/api/v1/jobs/{job['id']}/errors?limit=100&after={page['next']}")
    assert page["data"] + rest["data"] == errors and rest["next"] is None


def test_a_fixed_file_updates_instead_of_duplicating(small):
    _, api = small
    before = total(api, "/api/v1/deals")
    fixed = (b"opportunity_id,product,account,deal_stage,engage_date,close_date,close_value\n"
             b"FIX00001,GTX Pro,Cancity,Engaging,2017-01-02,,\n")
    job, _ = run_import(api, fixed, BAD_OPTIONS, filename="fix.csv")
    assert (job["created"], job["failed"]) == (1, 0)
    again = fixed.replace(b"Engaging,2017-01-02,,", b"Won,2017-01-02,2017-04-05,999")
    job, _ = run_import(api, again, BAD_OPTIONS, filename="fix.csv")
    assert (job["created"], job["updated"], job["unchanged"], job["failed"]) == (0, 1, 0, 0), job
    d = one(api, "/api/v1/deals?external_id=FIX00001")
    assert (d["stage"], d["amount"], d["close_date"], d["version"]) == ("won", 999, "2017-04-05", 2)
    assert total(api, "/api/v1/deals") == before + 1
    stages = get_json(api, f"/api/v1/deals/{d['id']}/stages")["data"]
    assert [(s["from"], s["to"]) for s in stages] == [(None, "engaging"), ("engaging", "won")]
    assert all(s["actor"].startswith("job_") for s in stages)


# ---- 5. encodings and formats ---------------------------------------------

@pytest.fixture(scope="module")
def enc(server):
    return extra_tenant(server, "enc")


def test_a_latin1_file_declared_latin1(enc):
    _, api = enc
    raw = "name,city,sector\nJosé García,München,latin1\nFrançoise Ærø,Zürich,latin1\n" \
        .encode("latin-1")
    assert b"Jos\xe9" in raw
    job, _ = run_import(api, raw, {"object": "customers", "key": "name", "encoding": "latin-1"})
    assert (job["created"], job["failed"]) == (2, 0), job
    c = one(api, "/api/v1/customers?name=José García")
    assert c["city"] == "München"
    assert one(api, "/api/v1/customers?name=Françoise Ærø")["city"] == "Zürich"
    # the same bytes read as UTF-8: the rows are refused, not garbled
    job, _ = run_import(api, raw.replace(b"latin1", b"undeclared"),
                        {"object": "customers", "key": "name"})
    assert (job["created"], job["updated"], job["failed"]) == (0, 0, 2), job
    assert all("UTF-8" in e["message"] for e in job_errors(api, job["id"]))
    assert total(api, "/api/v1/customers?sector=undeclared") == 0


def test_the_real_complaints_file_with_bom_and_crlf(enc):
    _, api = enc
    with open(COMPLAINTS_CSV, "rb") as f:
        raw = f.read()
    assert raw.startswith(b"\xef\xbb\xbfTicket #,") and b"\r\n" in raw
    options = {
        "object": "tickets", "key": "external_id",
        "columns": {"Ticket #": "external_id", "Customer Complaint": "subject",
                    "Received Via": "channel", "Status": "status",
                    "Filing on Behalf of Someone": "type"},
        "values": {"Status": {"Solved": "resolved", "Closed": "closed", "Open": "open",
                              "Pending": "pending"},
                   "Received Via": {"Customer Care Call": "phone", "Internet": "web"}},
    }
    job, _ = run_import(api, COMPLAINTS_CSV, options)
    assert job["status"] == "succeeded"
    assert (job["total"], job["created"], job["failed"]) == (2224, 2224, 0), \
        (job, job_errors(api, job["id"])[:5])
    t = one(api, "/api/v1/tickets?external_id=250635")   # the first row, after the BOM
    assert (t["subject"], t["channel"], t["status"], t["type"]) == \
        ("Comcast Cable Internet Speeds", "phone", "closed", "No")
    assert one(api, "/api/v1/tickets?external_id=comcas")["subject"].startswith(
        "nd intrenal miscommunication")
    counts = {s: total(api, f"/api/v1/tickets?status={s}")
              for s in ("resolved", "closed", "open", "pending")}
    assert counts == {"resolved": 973, "closed": 734, "open": 363, "pending": 154}
    # the last column carries no CR
    assert total(api, "/api/v1/tickets?type=No") == 2021
    assert total(api, "/api/v1/tickets?type=Yes") == 203


def test_a_gb18030_file_declared_gb18030(enc):
    _, api = enc
    text = "name,city,sector\n张伟,北京,gb\n王𠮷,上海,gb\n欧阳娜娜,广州,gb\n"
    raw = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    job, _ = run_import(api, raw, {"object": "customers", "key": "name", "encoding": "gb18030"})
    assert (job["created"], job["failed"]) == (3, 0), job
    assert one(api, "/api/v1/customers?name=张伟")["city"] == "北京"
    assert one(api, "/api/v1/customers?name=王𠮷")["city"] == "上海"   # a four-byte GB18030 code
    assert one(api, "/api/v1/customers?name=欧阳娜娜")["city"] == "广州"
    # and they are found by search, in Chinese
    hits = get_json(api, "/api/v1/search?q=欧阳")["data"]
    assert [h["record"]["name"] for h in hits] == ["欧阳娜娜"]


def test_a_semicolon_delimited_file(enc):
    _, api = enc
    raw = (b"name;sector;employees;city\r\n"
           b"\"Smith; Jones & Co\";semi;12;Lyon\r\n"
           b"Plain Ltd;semi;7;\"a \"\"quoted\"\" city\"\r\n"
           b"Comma, Inc;semi;3;Oslo\r\n")
    job, _ = run_import(api, raw, {"object": "customers", "key": "name", "delimiter": ";"},
                        raw=True)
    assert (job["created"], job["failed"]) == (3, 0), (job, job_errors(api, job["id"]))
    assert one(api, "/api/v1/customers?name=Smith; Jones %26 Co")["employees"] == 12
    assert one(api, "/api/v1/customers?name=Plain Ltd")["city"] == 'a "quoted" city'
    assert one(api, "/api/v1/customers?name=Comma, Inc")["city"] == "Oslo"
    # tab works too, by name
    job, _ = run_import(api, b"name\tsector\nTabbed GmbH\tsemi\n",
                        {"object": "customers", "key": "name", "delimiter": "tab"})
    assert job["created"] == 1
    assert total(api, "/api/v1/customers?sector=semi") == 4


def test_a_utf16_file_with_its_byte_order_mark(enc):
    _, api = enc
    raw = "name,city\nZoë Ünal,Köln\n".encode("utf-16")    # BOM + UTF-16LE
    assert raw[:2] == b"\xff\xfe"
    job, _ = run_import(api, raw, {"object": "customers", "key": "name"})
    assert (job["created"], job["failed"]) == (1, 0), job
    assert one(api, "/api/v1/customers?name=Zoë Ünal")["city"] == "Köln"


def test_preview_detects_encoding_delimiter_and_suggests_a_mapping(enc):
    _, api = enc
    r = upload(api, "name,sector\nJosé García,retail\n".encode("latin-1"), {},
               path="/api/v1/imports/preview")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["encoding"] == "WINDOWS-1252" and p["bom"] is False
    assert p["header"] == ["name", "sector"] and p["rows"] == [["José García", "retail"]]
    r = upload(api, "name,city\n张伟,北京\n王芳,上海\n".encode("gb18030"), {},
               path="/api/v1/imports/preview")
    assert r.json()["encoding"] == "GB18030"
    assert r.json()["rows"] == [["张伟", "北京"], ["王芳", "上海"]]
    r = upload(api, b"name;sector\r\nA;b\r\n", {}, path="/api/v1/imports/preview")
    assert r.json()["delimiter"] == ";" and r.json()["rows"] == [["A", "b"]]
    r = upload(api, TICKETS_CSV, {}, path="/api/v1/imports/preview")
    p = r.json()
    assert p["encoding"] == "UTF-8" and len(p["rows"]) == 20
    assert "\n\n" in p["rows"][0][p["header"].index("Ticket Description")]
    s = p["suggested"]
    assert s["object"] == "tickets" and s["key"] == "external_id"
    assert s["columns"]["Ticket ID"] == "external_id"
    assert s["columns"]["Ticket Subject"] == "subject"
    assert s["columns"]["Ticket Priority"] == "priority"
    r = upload(api, COMPLAINTS_CSV, {}, path="/api/v1/imports/preview")
    assert r.json()["bom"] is True and r.json()["header"][0] == "Ticket #"
    # nothing was imported by previews
    assert total(api, "/api/v1/customers?name=José García") == 1


# ---- 6. options, limits, roles, tenants --------------------------------------

SIMPLE = b"name,sector\r\nAcme,retail\r\n"


@pytest.mark.parametrize("options, pointer", [
    ({"object": "widgets"}, "/object"),
    ({"object": "fields"}, "/object"),
    ({}, "/object"),
    ({"object": "customers", "columns": {"name": "nosuch"}}, "/columns/name"),
    ({"object": "customers", "columns": {"name": "name", "sector": "attrs.nosuch"}},
     "/columns/sector"),
    ({"object": "customers", "columns": {"name": "name", "sector": "parent_id.sector"}},
     "/columns/sector"),
    ({"object": "customers", "columns": {"name": "name", "nope": "sector"}}, "/columns/nope"),
    ({"object": "customers", "columns": {"name": "id"}}, "/columns/name"),
    ({"object": "customers", "key": "sector"}, "/key"),
    ({"object": "customers", "key": "email"}, "/key"),       # no column maps to it
    ({"object": "customers", "encoding": "klingon"}, "/encoding"),
    ({"object": "customers", "delimiter": ";;"}, "/delimiter"),
    ({"object": "customers", "date_order": "ydm"}, "/date_order"),
    ({"object": "customers", "bogus": True}, "/bogus"),
    ({"object": "customers", "values": {"sector": ["x"]}}, "/values/sector"),
    ({"object": "customers", "create_missing": ["owner_id"]}, "/create_missing/0"),
])
def test_bad_options_are_refused_with_a_pointer(enc, options, pointer):
    _, api = enc
    before = get_json(api, "/api/v1/jobs?limit=200")["data"]
    for raw in (False, True):
        r = upload(api, SIMPLE, options, raw=raw)
        body = assert_problem(r, 422, "validation-error", pointer)
        assert body["errors"], body
    assert get_json(api, "/api/v1/jobs?limit=200")["data"] == before, "no job for bad options"


def test_several_option_mistakes_are_reported_together(enc):
    _, api = enc
    r = upload(api, SIMPLE, {"object": "customers", "key": "sector", "columns": {
        "name": "name", "sector": "nosuch", "city": "city"}, "delimiter": ",", "x": 1})
    body = assert_problem(r, 422, "validation-error")
    pointers = {e["pointer"] for e in body["errors"]}
    assert pointers == {"/x", "/key", "/columns/sector", "/columns/city"}, body


def test_malformed_options_and_missing_files(enc):
    _, api = enc
    for raw in (False, True):
        body = assert_problem(upload(api, SIMPLE, '{"object": "customers"', raw=raw), 400,
                              "malformed-json")
        assert "options" in body["detail"]
    assert_problem(upload(api, SIMPLE, "[1, 2]"), 422)
    # no file at all, an empty one, or one with only a BOM
    r = api.request("POST", "/api/v1/imports", data={"options": '{"object":"customers"}'},
                    files={"options2": (None, b"no file here")})
    assert_problem(r, 400)
    assert_problem(upload(api, b"", {"object": "customers"}), 400)
    assert_problem(upload(api, b"\xef\xbb\xbf", {"object": "customers"}), 422)
    # JSON is not a CSV
    r = api.post("/api/v1/imports", {"object": "customers"})
    assert_problem(r, 415)


def test_an_upload_over_max_upload_is_refused(make_server):
    s = make_server("--max-upload", "4096", "--rate-limit", "0")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    big = b"name,sector\n" + b"".join(b"Customer %05d,retail\n" % i for i in range(1000))
    assert len(big) > 4096
    for raw in (False, True):
        body = assert_problem(upload(api, big, {"object": "customers"}, raw=raw), 413,
                              "payload-too-large")
        assert "4096" in body["detail"]
    assert_problem(upload(api, big, {}, path="/api/v1/imports/preview"), 413)
    assert get_json(api, "/api/v1/jobs")["data"] == []
    # below the limit, the same server imports
    job, _ = run_import(api, big[:2000].rsplit(b"\n", 1)[0] + b"\n", {"object": "customers"})
    assert job["status"] == "succeeded" and job["failed"] == 0
    assert total(api, "/api/v1/customers") == job["created"] > 50


@pytest.fixture(scope="module")
def job_roles(server, enc):
    tenant, admin = enc
    out = {"read key": Api(server.base, add_key(admin, "read")["token"], server.openapi)}
    for role in ("sales", "service", "read_only", "manager"):
        u = add_user(admin, role)
        out[role] = sign_in(server, tenant["slug"], u["email"], u["password"])
    job, _ = run_import(admin, SIMPLE, {"object": "customers", "key": "name"})
    return out, job


@pytest.mark.parametrize("who", ["read key", "read_only", "sales", "service"])
def test_only_admins_and_managers_import(job_roles, enc, who):
    _, admin = enc
    clients, job = job_roles
    api = clients[who]
    before = get_json(admin, "/api/v1/jobs?limit=200")["data"]
    for path in ("/api/v1/imports", "/api/v1/imports/preview"):
        for raw in (False, True):
            assert_problem(upload(api, SIMPLE, {"object": "customers"}, raw=raw, path=path), 403)
    assert_problem(api.get("/api/v1/jobs"), 403)
    assert_problem(api.get(f"/api/v1/jobs/{job['id']}"), 403)
    assert_problem(api.get(f"/api/v1/jobs/{job['id']}/errors"), 403)
    assert_problem(api.get(f"/api/v1/jobs/{job['id']}/errors?format=csv"), 403)
    assert get_json(admin, "/api/v1/jobs?limit=200")["data"] == before


def test_a_manager_imports_and_the_audit_names_the_manager_job(job_roles, enc):
    _, admin = enc
    clients, _ = job_roles
    mgr = clients["manager"]
    name = unique("Managed")
    job, _ = run_import(mgr, f"name,sector\n{name},mgr\n".encode(), {"object": "customers"})
    assert (job["status"], job["created"]) == ("succeeded", 1)
    c = one(admin, f"/api/v1/customers?name={name}")
    assert c["created_by"] == job["id"]
    # a manager may not write users: the job's role is the caller's
    r = upload(mgr, b"name,email\nEve,eve@example.com\n", {"object": "users"})
    assert_problem(r, 403)


def test_another_tenants_job_is_not_found(crm, beta):
    job = crm["jobs"]["deals"]
    small_job = crm["jobs"]["products"]
    for jid in (job["id"], small_job["id"], missing_id("job")):
        a = assert_problem(beta.get(f"/api/v1/jobs/{jid}"), 404)
        b = assert_problem(beta.get(f"/api/v1/jobs/{jid}/errors"), 404)
        c = assert_problem(beta.get(f"/api/v1/jobs/{jid}/errors?format=csv"), 404)
        assert a["type"] == b["type"] == c["type"]
    # a missing job and another tenant's look the same
    x = beta.get(f"/api/v1/jobs/{job['id']}").json()
    y = beta.get(f"/api/v1/jobs/{missing_id('job')}").json()
    assert (x["type"], x["title"], x["status"]) == (y["type"], y["title"], y["status"])
    listed = {j["id"] for j in get_json(beta, "/api/v1/jobs?limit=200")["data"]}
    assert not listed & {j["id"] for j in crm["jobs"].values()}
    assert_problem(beta.get("/api/v1/jobs/not-an-id"), 404)


def test_imported_records_stay_in_their_tenant(crm, beta):
    api = crm["api"]
    d = one(api, "/api/v1/deals?external_id=1C1I7A6R")
    assert_problem(beta.get(f"/api/v1/deals/{d['id']}"), 404)
    assert get_json(beta, "/api/v1/deals?external_id=1C1I7A6R")["data"] == []
    assert get_json(beta, "/api/v1/products?name=GTX Pro")["data"] == []
    assert get_json(beta, "/api/v1/tickets?external_id=1")["data"] == []
    r = beta.get("/api/v1/exports/deals")
    assert r.status_code == 200 and "1C1I7A6R" not in r.content.decode("utf-8-sig")


def test_an_import_killed_midway_resumes_without_duplicates(make_server):
    """kill -9 during an import without a key (every row a new record): at
    the next start the job carries on from its last committed batch."""
    s = make_server("--rate-limit", "0")
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    for f in mapping("custom_fields.json"):
        api.create("fields", f)
    r = upload(api, REVIEWS_CSV, mapping("waimai_reviews.json"))
    assert r.status_code == 202, r.text
    jid = r.json()["id"]
    deadline = time.time() + 60
    while True:
        job = get_json(api, f"/api/v1/jobs/{jid}")
        assert job["status"] == "running" or job["done"] == 0, \
            f"the job ended before it could be interrupted: {job}"
        if job["done"] >= 1000:
            break
        assert time.time() < deadline
        time.sleep(0.005)
    s.kill9()
    s.start()
    api = Api(s.base, s.tenants["alpha"]["key"], s.openapi)
    job, _ = wait_job(api, jid)
    assert (job["status"], job["total"], job["done"], job["created"], job["failed"]) == \
        ("succeeded", 11987, 11987, 11987, 0), job
    assert total(api, "/api/v1/activities") == 11987
    assert total(api, "/api/v1/activities?attrs.sentiment_label=positive") == 4000
    assert "resumed" in open(s.log_path, errors="replace").read()
    # the upload's copy is removed once its job is over
    assert os.listdir(os.path.join(s.var, "imports")) == []
