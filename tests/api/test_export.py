"""CSV export: GET /api/v1/exports/{object} and `axon export`. The file
opens in a spreadsheet as it should (UTF-8 BOM, a header of field names,
RFC 4180 quoting, CRLF) and cannot run formulas there: a text cell starting
with = + - @ tab or CR gets a leading apostrophe; numbers stay numbers. The
list filters apply, roles see what they may read, tenants see their own."""
import csv
import io
import os

import pytest

from conftest import Api
from helpers import add_key, add_user, assert_problem, extra_tenant, get_json, sign_in
from import_helpers import PIPELINE_DIR, mapping, pipeline, run_import, total

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)", "\tTabbed", "=1+1\n=2+2"]


def parse(content):
    """The rows of an exported file (BOM checked and removed)."""
    assert content.startswith(b"\xef\xbb\xbf"), content[:20]
    text = content[3:].decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def export(api, path):
    r = api.get(path)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    return r, parse(r.content)


def as_dicts(rows):
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.fixture(scope="module")
def exp(server):
    """A tenant with the pipeline's 85 accounts, a custom field, customers
    whose names look like formulas, and tickets with formula-like text."""
    tenant, api = extra_tenant(server, "exp")
    api.create("fields", {"object": "customers", "name": "age", "type": "number"})
    job, _ = run_import(api, os.path.join(PIPELINE_DIR, "accounts.csv"), mapping("accounts.json"))
    assert (job["created"], job["failed"]) == (85, 0)
    made = {}
    for name in FORMULAS:
        made[name] = api.create("customers", {"name": name.replace("\n", " "), "sector": "formula",
                                              "revenue": -2.5, "employees": -3,
                                              "attrs": {"age": 41}})
    ticket = api.create("tickets", {"subject": "formula ticket", "description": "\r=cmd|' /C calc'!A0",
                                    "resolution": "-2+3\nsecond line, with \"quotes\""})
    return {"tenant": tenant, "api": api, "made": made, "ticket": ticket}


def test_export_is_a_spreadsheet_ready_csv(exp):
    api = exp["api"]
    r, rows = export(api, "/api/v1/exports/customers")
    assert r.headers["Content-Disposition"] == 'attachment; filename="customers.csv"'
    header = rows[0]
    assert header[:3] == ["id", "name", "kind"]
    for col in ("sector", "revenue", "employees", "year_established", "country", "parent_id",
                "owner_id", "external_id", "attrs.age"):
        assert col in header, col
    assert header[-2:] == ["created_at", "updated_at"]
    assert "attrs" not in header and "tenant_id" not in header
    assert all(len(row) == len(header) for row in rows)
    assert len(rows) - 1 == 85 + len(FORMULAS) == total(api, "/api/v1/customers")


def test_exported_accounts_match_the_source_file(exp):
    api = exp["api"]
    _, rows = export(api, "/api/v1/exports/customers?kind=company&sector[ne]=formula")
    got = {d["name"]: d for d in as_dicts(rows)}
    accounts = pipeline("accounts.csv")
    assert set(got) == {a["account"] for a in accounts}
    ids = {name: d["id"] for name, d in got.items()}
    for a in accounts:
        d = got[a["account"]]
        assert d["sector"] == a["sector"]
        assert float(d["revenue"]) == float(a["revenue"])
        assert d["employees"] == a["employees"]
        assert d["year_established"] == a["year_established"]
        assert d["country"] == a["office_location"]
        assert d["parent_id"] == (ids[a["subsidiary_of"]] if a["subsidiary_of"] else "")
        assert d["attrs.age"] == ""
        assert d["id"].startswith("cus_")


def test_formulas_are_neutralised(exp):
    api = exp["api"]
    r, rows = export(api, "/api/v1/exports/customers?sector=formula")
    got = as_dicts(rows)
    assert sorted(d["name"] for d in got) == \
        sorted("'" + n.replace("\n", " ") for n in FORMULAS)
    for d in got:
        # numbers are written as numbers, never prefixed
        assert (d["revenue"], d["employees"], d["attrs.age"]) == ("-2.5", "-3", "41")
    raw = r.content.decode("utf-8-sig")
    assert "\"'=HYPERLINK(\"\"http://x\"\")\"" in raw      # quoted, quotes doubled
    assert "'+1," in raw and "'-1+2," in raw and "'@SUM(A1)," in raw
    assert "\"'\tTabbed\"" in raw
    for row in rows[1:]:
        for cell in row:
            assert not cell or cell[0] not in "=+@\t\r", cell


def test_cr_and_line_breaks_in_long_text(exp):
    api = exp["api"]
    t = exp["ticket"]
    r, rows = export(api, f"/api/v1/exports/tickets?id={t['id']}")
    assert r.headers["Content-Disposition"] == 'attachment; filename="tickets.csv"'
    (d,) = as_dicts(rows)
    assert d["description"] == "'\r=cmd|' /C calc'!A0"
    assert d["resolution"] == "'-2+3\nsecond line, with \"quotes\""
    assert d["subject"] == "formula ticket" and d["status"] == "open"


def test_filters_apply_to_the_export(exp):
    api = exp["api"]
    accounts = pipeline("accounts.csv")
    cases = {
        "sector=technolgy": [a for a in accounts if a["sector"] == "technolgy"],
        "country=United States": [a for a in accounts if a["office_location"] == "United States"],
        "revenue[gte]=1000&kind=company":
            [a for a in accounts if float(a["revenue"]) >= 1000],
        "employees[lt]=1000&sector[ne]=formula":
            [a for a in accounts if int(a["employees"]) < 1000],
    }
    for query, want in cases.items():
        _, rows = export(api, "/api/v1/exports/customers?" + query)
        assert sorted(d["name"] for d in as_dicts(rows)) == sorted(a["account"] for a in want), query
        assert len(want) > 0
    assert len(cases["sector=technolgy"]) == 12
    # the list API agrees
    assert total(api, "/api/v1/customers?sector=technolgy") == 12
    # nothing matches: just the header
    _, rows = export(api, "/api/v1/exports/customers?sector=nothing-here")
    assert len(rows) == 1 and rows[0][0] == "id"
    # bad filters and objects are refused like the list's
    assert_problem(api.get("/api/v1/exports/customers?nosuch=1"), 400)
    assert_problem(api.get("/api/v1/exports/customers?revenue[gt]=lots"), 400)
    assert_problem(api.get("/api/v1/exports/widgets"), 404)


def test_a_large_export_streams_every_row(server):
    """More rows than one page of the stream (500): the pipeline's deals."""
    tenant, api = extra_tenant(server, "bigexp")
    options = {"object": "deals", "key": "external_id",
               "columns": {"opportunity_id": ["external_id", "name"], "deal_stage": "stage",
                           "close_value": "amount", "close_date": "close_date"}}
    job, _ = run_import(api, os.path.join(PIPELINE_DIR, "sales_pipeline.csv"), options)
    assert job["created"] == 8800
    _, rows = export(api, "/api/v1/exports/deals")
    got = as_dicts(rows)
    assert len(got) == 8800 and len({d["external_id"] for d in got}) == 8800
    src = {d["opportunity_id"]: d for d in pipeline("sales_pipeline.csv")}
    for d in got[::97]:
        s = src[d["external_id"]]
        assert d["stage"] == s["deal_stage"].lower()
        assert d["amount"] == s["close_value"] and d["close_date"] == s["close_date"]
    _, rows = export(api, "/api/v1/exports/deals?stage=won")
    assert len(rows) - 1 == 4238


def test_who_may_export(server, exp):
    tenant, admin = exp["tenant"], exp["api"]
    cid = exp["made"]["+1"]["id"]
    users = {role: add_user(admin, role) for role in ("manager", "sales", "service", "read_only")}
    clients = {role: sign_in(server, tenant["slug"], u["email"], u["password"])
               for role, u in users.items()}
    # managers export, revenue included
    _, rows = export(clients["manager"], "/api/v1/exports/customers?sector=formula")
    assert "revenue" in rows[0] and {d["revenue"] for d in as_dicts(rows)} == {"-2.5"}
    # exports are for admins and managers; the rest get 403 - service
    # staff, who may not read revenue, cannot get around that by exporting
    for role in ("sales", "service", "read_only"):
        assert_problem(clients[role].get("/api/v1/exports/customers"), 403)
    read_key = Api(server.base, add_key(admin, "read")["token"], server.openapi)
    assert_problem(read_key.get("/api/v1/exports/customers"), 403)
    svc = get_json(clients["service"], f"/api/v1/customers/{cid}")
    assert "revenue" not in svc and svc["employees"] == -3


def test_another_tenants_export_holds_none_of_it(exp, beta):
    r, rows = export(beta, "/api/v1/exports/customers")
    ids = {d["id"] for d in as_dicts(rows)}
    mine = {m["id"] for m in exp["made"].values()}
    assert not ids & mine
    assert "Cancity" not in r.content.decode("utf-8-sig")
    r, rows = export(beta, f"/api/v1/exports/tickets?id={exp['ticket']['id']}")
    assert len(rows) == 1


def test_cli_export_writes_the_same_file(server, exp, tmp_path):
    api = exp["api"]
    out = tmp_path / "formula.csv"
    p = server.cli("export", "--tenant", exp["tenant"]["slug"], "--object", "customers",
                   "--out", str(out), "sector=formula")
    assert "exported %d customers" % len(FORMULAS) in p.stderr
    r, _ = export(api, "/api/v1/exports/customers?sector=formula")
    assert out.read_bytes() == r.content
    # to stdout, with a bad filter
    p = server.cli("export", "--tenant", exp["tenant"]["slug"], "--object", "customers",
                   "nosuch=1", check=False)
    assert p.returncode == 1 and "nosuch" in p.stderr
    p = server.cli("export", "--tenant", exp["tenant"]["slug"], "--object", "widgets", check=False)
    assert p.returncode == 2
