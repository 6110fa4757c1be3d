"""Suggestions after a rule made them: accept, dismiss, complete (timed,
audited, 409 once decided), duplicates merged, expiry; the monthly review
audit (a reproducible 5% sample, at least one per rule), verdicts, the
per-rule report and retiring a rule; the decision-chain KPI on the real
pipeline. Each test works in a tenant of its own."""
import datetime as dt
import hashlib
import os
import statistics

import pytest

from helpers import add_user, assert_problem, extra_tenant, get_json, sign_in
from import_helpers import PIPELINE_DIR, mapping, pipeline, run_import
from pack_helpers import deliveries, manifest, publish, upload, wait_for, zip_pack


def this_month():
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")


@pytest.fixture
def team(server):
    """A fresh tenant: (tenant, admin Api, a customer)."""
    tenant, api = extra_tenant(server, "sugg")
    customer = api.create("customers", {"name": "Acme Trading"})
    return tenant, api, customer


def suggest(api, customer, **extra):
    body = {"title": "hold the quote; settle the supply commitment first",
            "customer_id": customer["id"], "rule": "combo/late-delivery",
            "evidence": [{"kind": "ticket", "text": "shipment late again"}]}
    body.update(extra)
    return api.create("suggestions", body)


# ---- outcomes -------------------------------------------------------------------------------

def test_accept_then_complete_is_timed_audited_and_final(server, team):
    _, api, customer = team
    seller = add_user(api, "sales")
    staff = sign_in(server, team[0]["slug"], seller["email"], seller["password"])
    s = suggest(api, customer)
    assert (s["status"], s["accepted_at"], s["decided_by"]) == ("open", None, None)

    r = staff.post(f"/api/v1/suggestions/{s['id']}/accept")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "accepted" and got["decided_by"] == seller["id"]
    assert got["accepted_at"] >= s["created_at"] and got["version"] == 2
    assert r.headers["ETag"] == '"2"'

    body = assert_problem(staff.post(f"/api/v1/suggestions/{s['id']}/accept"), 409, "decided")
    assert "accepted already" in body["detail"]
    assert_problem(staff.post(f"/api/v1/suggestions/{s['id']}/dismiss", {"reason": "no"}), 409,
                   "decided")

    done = staff.post(f"/api/v1/suggestions/{s['id']}/complete", {"note": "quote held"}).json()
    assert done["status"] == "completed" and done["status_reason"] == "quote held"
    assert done["accepted_at"] == got["accepted_at"] and done["completed_at"] >= got["accepted_at"]
    assert_problem(staff.post(f"/api/v1/suggestions/{s['id']}/complete"), 409, "decided")

    # every outcome is one audited change, by the user who made it
    history = get_json(api, f"/api/v1/suggestions/{s['id']}/history")["data"]
    assert [h["action"] for h in history] == ["update", "update", "create"]
    accepted = history[1]
    assert accepted["actor_id"] == seller["id"]
    assert accepted["changes"]["status"] == ["open", "accepted"]
    assert accepted["changes"]["accepted_at"] == [None, got["accepted_at"]]
    assert accepted["changes"]["decided_by"] == [None, seller["id"]]
    assert history[0]["changes"]["status"] == ["accepted", "completed"]
    assert get_json(api, "/api/v1/audit/verify")["ok"]


def test_dismiss_needs_a_reason(team):
    _, api, customer = team
    s = suggest(api, customer)
    url = f"/api/v1/suggestions/{s['id']}/dismiss"
    assert_problem(api.post(url, {}), 422, "validation-error", "/reason")
    assert_problem(api.post(url, {"reason": "   "}), 422, "validation-error", "/reason")
    assert_problem(api.post(url, {"reason": 5}), 422, "validation-error", "/reason")
    assert_problem(api.post(url, {"reason": "x", "colour": "red"}), 422, "validation-error",
                   "/colour")
    assert_problem(api.post(url, {"reason": "a" * 1001}), 422, "validation-error", "/reason")
    assert get_json(api, f"/api/v1/suggestions/{s['id']}")["version"] == 1
    got = api.post(url, {"reason": "the customer already has a quote"}).json()
    assert got["status"] == "dismissed" and got["status_reason"] == "the customer already has a quote"
    assert got["dismissed_at"] and got["accepted_at"] is None and got["decided_by"].startswith("key_")
    assert_problem(api.post(f"/api/v1/suggestions/{s['id']}/accept"), 409, "decided")
    assert_problem(api.post(f"/api/v1/suggestions/{s['id']}/complete"), 409, "decided")


def test_if_match_and_missing_or_foreign_suggestions(team, beta):
    _, api, customer = team
    s = suggest(api, customer)
    url = f"/api/v1/suggestions/{s['id']}/accept"
    assert_problem(api.post(url, headers={"If-Match": '"7"'}), 412, "version-mismatch")
    assert_problem(api.post(url, headers={"If-Match": "7"}), 400, "bad-request")
    assert_problem(beta.post(url), 404, "not-found")
    assert_problem(api.post("/api/v1/suggestions/sug_00000000000000000000/accept"), 404,
                   "not-found")
    assert get_json(api, f"/api/v1/suggestions/{s['id']}")["status"] == "open"
    r = api.post(url, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["status"] == "accepted"


def test_outcome_fields_belong_to_the_server(team):
    _, api, customer = team
    s = suggest(api, customer)
    for field in ("accepted_at", "dismissed_at", "completed_at", "decided_by"):
        value = "usr_00000000000000000000" if field == "decided_by" else "2026-01-01T00:00:00Z"
        assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {field: value}), 422,
                       "validation-error", "/" + field)
        body = {"title": "x", field: value}
        assert_problem(api.post("/api/v1/suggestions", body), 422, "validation-error", "/" + field)
    # a new suggestion is open
    assert_problem(api.post("/api/v1/suggestions", {"title": "x", "status": "accepted"}), 422,
                   "validation-error", "/status")
    # PATCH of status follows the same rules as the endpoints
    assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {"status": "dismissed"}), 422,
                   "validation-error", "/status_reason")
    got = api.patch(f"/api/v1/suggestions/{s['id']}", {"status": "accepted"}).json()
    assert got["accepted_at"] and got["decided_by"]
    assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {"status": "open"}), 409, "decided")


def test_open_suggestions_expire(team):
    _, api, customer = team
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    s = suggest(api, customer, expires_at=past)
    # deciding it once its time is up is refused, even before the dispatcher notices
    r = api.post(f"/api/v1/suggestions/{s['id']}/accept")
    if r.status_code != 409 or r.json()["type"] != "/problems/expired":
        assert_problem(r, 409, "decided")   # the dispatcher was quicker
    got = wait_for(lambda: get_json(api, f"/api/v1/suggestions/{s['id']}")["status"] == "expired",
                   what="the expiry")
    assert got
    history = get_json(api, f"/api/v1/suggestions/{s['id']}/history")["data"]
    assert history[0]["changes"]["status"] == ["open", "expired"]
    assert history[0]["actor_type"] == "system"
    assert_problem(api.post(f"/api/v1/suggestions/{s['id']}/accept"), 409, "decided")


# ---- duplicates merged, retired rules silent: a small rule pack ------------------------------

RULE = """
return {
  late = function(e)
    local t = e.record
    if not t.customer_id then return end
    axon.suggest{
      title = "hold the quote; settle the supply commitment first",
      customer_id = t.customer_id, rule = "late-delivery",
      key = "late-delivery:" .. t.customer_id,
      evidence = { { kind = "ticket", object_id = t.id, text = t.subject } },
      expires_in_days = 30 }
  end,
  nudge = function(e)
    local s = axon.suggest{ title = "welcome call", customer_id = e.record.id, rule = "nudge" }
    axon.log("made", s and s.id or "nothing")
  end,
}
"""


@pytest.fixture
def rule_pack(team):
    _, api, _ = team
    pack = upload(api, zip_pack({
        "pack.lua": manifest("combo", "1.0.0", ["suggestions:write", "tickets:read"],
                             [("tickets.created", "after", "rules.late"),
                              ("customers.created", "after", "rules.nudge")]),
        "rules.lua": RULE}))
    publish(api, pack["pack_id"], "1.0.0")
    return pack["pack_id"]


def settled(api, pack_id, n):
    return wait_for(lambda: len(deliveries(api, pack_id, "done")) >= n and
                    not deliveries(api, pack_id, "pending"), what=f"{n} deliveries")


def test_the_same_signals_twice_make_one_suggestion(team, rule_pack):
    _, api, customer = team
    t1 = api.create("tickets", {"subject": "shipment late again", "customer_id": customer["id"]})
    settled(api, rule_pack, 1)
    t2 = api.create("tickets", {"subject": "shipment late again", "customer_id": customer["id"]})
    settled(api, rule_pack, 2)
    found = get_json(api, f"/api/v1/suggestions?customer_id={customer['id']}"
                          "&rule=combo/late-delivery")["data"]
    assert len(found) == 1, found
    s = found[0]
    assert s["occurrences"] == 2 and s["rule_version"] == "1.0.0"
    assert [e["object_id"] for e in s["evidence"]] == [t1["id"], t2["id"]]

    # accepting it is audited; the same signals again still make no second one
    assert api.post(f"/api/v1/suggestions/{s['id']}/accept").status_code == 200
    assert get_json(api, f"/api/v1/suggestions/{s['id']}/history")["data"][0]["changes"][
        "status"] == ["open", "accepted"]
    api.create("tickets", {"subject": "shipment late again", "customer_id": customer["id"]})
    settled(api, rule_pack, 3)
    found = get_json(api, f"/api/v1/suggestions?customer_id={customer['id']}"
                          "&rule=combo/late-delivery")["data"]
    assert len(found) == 1 and found[0]["occurrences"] == 3
    assert found[0]["status"] == "accepted"


def test_a_retired_rule_makes_no_more_suggestions(team, rule_pack):
    _, api, _ = team
    first = api.create("customers", {"name": "First"})
    settled(api, rule_pack, 1)
    assert len(get_json(api, f"/api/v1/suggestions?customer_id={first['id']}")["data"]) == 1
    rule = "combo/nudge"
    r = api.post("/api/v1/rules/retire", {"rule": rule, "reason": "welcome calls never helped"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "retired" and r.json()["volume"] == 1
    second = api.create("customers", {"name": "Second"})
    settled(api, rule_pack, 2)
    assert get_json(api, f"/api/v1/suggestions?customer_id={second['id']}")["data"] == []
    runs = wait_for(lambda: get_json(api, f"/api/v1/packs/{rule_pack}/runs")["data"][1:] and
                    get_json(api, f"/api/v1/packs/{rule_pack}/runs")["data"],
                    what="the run log")     # written by the dispatcher, newest first
    assert runs[0]["outcome"] == "ok"
    lines = [line["message"] for line in runs[0]["logs"]]
    assert f"axon.suggest: rule {rule} is retired; no suggestion made" in lines
    assert "made nothing" in lines
    # the REST API refuses it too
    assert_problem(api.post("/api/v1/suggestions", {"title": "x", "rule": rule}), 409,
                   "rule-retired")


# ---- rules ------------------------------------------------------------------------------------

def test_rules_list_and_retire(server, team, beta):
    tenant, api, customer = team
    for rule in ("a/one", "a/one", "b/two"):
        suggest(api, customer, rule=rule)
    rules = {r["rule"]: r for r in get_json(api, "/api/v1/rules")["data"]}
    assert rules["a/one"]["volume"] == 2 and rules["a/one"]["status"] == "active"
    assert rules["b/two"]["open"] == 1

    manager = add_user(api, "manager")
    lead = sign_in(server, tenant["slug"], manager["email"], manager["password"])
    assert get_json(lead, "/api/v1/rules")["data"]
    assert_problem(lead.post("/api/v1/rules/retire", {"rule": "a/one", "reason": "x"}), 403,
                   "forbidden")
    assert_problem(api.post("/api/v1/rules/retire", {"rule": "a/one"}), 422, "validation-error",
                   "/reason")
    assert_problem(api.post("/api/v1/rules/retire", {"rule": "no/such", "reason": "x"}), 404,
                   "not-found")
    assert_problem(beta.post("/api/v1/rules/retire", {"rule": "a/one", "reason": "x"}), 404,
                   "not-found")
    got = api.post("/api/v1/rules/retire", {"rule": "a/one", "reason": "no value"}).json()
    assert (got["status"], got["reason"], got["changed_by"]) == ("retired", "no value",
                                                                 "key_" + api.key.split("_")[1])
    assert_problem(api.post("/api/v1/rules/retire", {"rule": "a/one", "reason": "again"}), 409,
                   "rule-retired")
    rules = {r["rule"]: r["status"] for r in get_json(api, "/api/v1/rules")["data"]}
    assert rules == {"a/one": "retired", "b/two": "active"}
    trail = get_json(api, "/api/v1/audit?object=rules")["data"]
    assert trail[0]["object_id"] == "a/one"
    assert trail[0]["changes"] == {"status": ["active", "retired"], "reason": [None, "no value"]}
    assert "a/one" not in beta.get("/api/v1/rules").text


# ---- the review audit (acceptance 4) ----------------------------------------------------------

def expected_sample(tenant_id, month, suggestions):
    """The documented algorithm, recomputed: ids in sample order."""
    seed = hashlib.sha256(b"axon-review\0" + tenant_id.encode() + b"\0" + month.encode()).digest()

    def score(tag, text):
        h = hashlib.sha256(seed + tag.encode() + b"\0" + text.encode()).digest()
        return int.from_bytes(h[:8], "big")

    rules = sorted({r for _, r in suggestions})
    pop = [sum(1 for _, r in suggestions if r == rule) for rule in rules]
    total = sum(pop)
    n = max((total * 5 + 99) // 100, len(rules))
    seats = [n * p // total for p in pop]
    order = sorted(range(len(rules)), key=lambda i: (-(n * pop[i] % total), score("rule", rules[i])))
    for i in order[:n - sum(seats)]:
        seats[i] += 1
    out = []
    for rule, k in zip(rules, seats):
        members = sorted((score("suggestion", i), i) for i, r in suggestions if r == rule)
        out += [i for _, i in members[:k]]
    return out


@pytest.fixture(scope="module")
def two_hundred(server):
    """A tenant with 200 suggestions from 4 rules, 50 each, this month."""
    tenant, api = extra_tenant(server, "sample")
    customer = api.create("customers", {"name": "Sampled Ltd"})
    made = []
    for i in range(200):
        rule = f"pack/rule-{i % 4}"
        s = api.create("suggestions", {"title": f"step {i}", "customer_id": customer["id"],
                                       "rule": rule})
        made.append((s["id"], rule))
    return tenant, api, made


def test_the_monthly_sample_holds_5_percent_with_every_rule(two_hundred):
    tenant, api, made = two_hundred
    month = this_month()
    r = api.post("/api/v1/reviews/samples", {"month": month, "partial": True})
    assert r.status_code == 200, r.text
    sample = r.json()
    assert sample["drawn_now"] and sample["month"] == month
    assert (sample["population"], sample["size"]) == (200, 10)
    ids = sample["suggestion_ids"]
    assert len(ids) == 10 == len(set(ids)) == len(sample["review_ids"])
    rule_of = dict(made)
    per_rule = {}
    for i in ids:
        per_rule[rule_of[i]] = per_rule.get(rule_of[i], 0) + 1
    assert set(per_rule) == {f"pack/rule-{k}" for k in range(4)}
    assert sorted(per_rule.values()) == [2, 2, 3, 3]
    assert {r["rule"]: r["sampled"] for r in sample["rules"]} == per_rule
    # reproducible: the documented algorithm gives the same ten, in order
    tenant_id = get_json(api, "/api/v1/tenant")["id"]
    assert ids == expected_sample(tenant_id, month, made)

    again = api.post("/api/v1/reviews/samples", {"month": month, "partial": True}).json()
    assert not again["drawn_now"]
    assert again["suggestion_ids"] == ids and again["review_ids"] == sample["review_ids"]
    assert again["id"] == sample["id"] and again["seed"] == sample["seed"]

    # a month that is not over is drawn only when asked for explicitly
    body = assert_problem(api.post("/api/v1/reviews/samples", {"month": month}), 422,
                          "month-not-over", "/month")
    assert "partial" in body["errors"][0]["detail"]

    trail = get_json(api, "/api/v1/audit?object=review_samples")["data"]
    assert len(trail) == 1 and trail[0]["object_id"] == sample["id"]
    assert trail[0]["changes"]["size"] == [None, 10]


def test_samples_need_a_month_with_suggestions(two_hundred, beta):
    _, api, _ = two_hundred
    for month in ("2026-13", "26-11", "2026-1", "", "1999-12"):
        assert_problem(api.post("/api/v1/reviews/samples", {"month": month}), 422,
                       "validation-error", "/month")
    assert_problem(api.post("/api/v1/reviews/samples", {}), 422, "validation-error", "/month")
    assert_problem(api.post("/api/v1/reviews/samples", {"month": "2020-01"}), 422,
                   "validation-error", "/month")
    # another tenant's suggestions are not in anyone else's sample
    before = get_json(beta, f"/api/v1/reviews?month={this_month()}")["data"]
    r = beta.post("/api/v1/reviews/samples", {"month": this_month(), "partial": True})
    if r.status_code == 200:
        mine = {i for i, _ in two_hundred[2]}
        assert not mine & set(r.json()["suggestion_ids"])
    else:
        assert_problem(r, 422, "validation-error", "/month")
        assert before == []


def test_queue_verdicts_report_and_the_flag(server, two_hundred):
    tenant, api, made = two_hundred
    month = this_month()
    sample = api.post("/api/v1/reviews/samples", {"month": month, "partial": True}).json()
    queue = get_json(api, f"/api/v1/reviews?month={month}&status=pending&count=true")
    assert queue["total"] == 10 and len(queue["data"]) == 10
    assert [q["suggestion_id"] for q in queue["data"]] == sample["suggestion_ids"]
    assert all(q["suggestion"]["id"] == q["suggestion_id"] for q in queue["data"])
    page = get_json(api, f"/api/v1/reviews?month={month}&limit=4")
    assert len(page["data"]) == 4 and page["next"]
    rest = get_json(api, f"/api/v1/reviews?month={month}&limit=20&after={page['next']}")
    assert [q["id"] for q in page["data"] + rest["data"]] == sample["review_ids"]

    # rule-0: staff accept all of it, reviewers find it never shortened a decision
    flagged = "pack/rule-0"
    for sid, rule in made:
        if rule == flagged:
            assert api.post(f"/api/v1/suggestions/{sid}/accept").status_code == 200
    manager = add_user(api, "manager")
    reviewer = sign_in(server, tenant["slug"], manager["email"], manager["password"])
    for q in queue["data"]:
        shortened = q["rule"] != flagged
        r = reviewer.post(f"/api/v1/reviews/{q['id']}",
                          {"shortened": shortened, "reason": "decided two weeks earlier"
                           if shortened else "the customer decided on price alone"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done" and r.json()["reviewed_by"] == manager["id"]
    assert get_json(api, f"/api/v1/reviews?month={month}&status=pending")["data"] == []
    one = queue["data"][0]
    history = get_json(api, "/api/v1/audit?object=reviews&limit=20")["data"]
    mine = [h for h in history if h["object_id"] == one["id"]]
    assert mine and mine[0]["changes"]["status"] == ["pending", "done"]

    report = get_json(api, f"/api/v1/reviews/report?month={month}&min_reviews=2")
    assert report["sample_id"] == sample["id"] and report["thresholds"]["min_reviews"] == 2
    rows = {r["rule"]: r for r in report["data"]}
    assert set(rows) == {f"pack/rule-{k}" for k in range(4)}
    bad = rows[flagged]
    assert (bad["volume"], bad["accepted"], bad["acceptance_rate"]) == (50, 50, 1.0)
    assert bad["reviewed"] == bad["sampled"] >= 2 and bad["confirmed"] == 0
    assert (bad["confirmed_rate"], bad["gap"], bad["flag"]) == (0.0, 1.0, "no business value")
    for rule, row in rows.items():
        if rule != flagged:
            assert row["acceptance_rate"] is None and row["confirmed_rate"] == 1.0
            assert row["flag"] is None and row["open"] == 50
    # the default needs three reviews before it flags
    default = {r["rule"]: r for r in get_json(api, f"/api/v1/reviews/report?month={month}")["data"]}
    assert (default[flagged]["flag"] is not None) == (bad["reviewed"] >= 3)
    # a verdict can be corrected (audited again)
    q = queue["data"][-1]
    r = reviewer.post(f"/api/v1/reviews/{q['id']}", {"shortened": False, "reason": "on reflection"})
    assert r.json()["shortened"] is False and r.json()["reason"] == "on reflection"

    # retire the flagged rule in one call
    assert api.post("/api/v1/rules/retire", {"rule": flagged, "reason": "no business value"}
                    ).status_code == 200
    rows = {r["rule"]: r for r in get_json(api, f"/api/v1/reviews/report?month={month}")["data"]}
    assert rows[flagged]["status"] == "retired"


def test_verdicts_are_checked(two_hundred):
    _, api, _ = two_hundred
    sample = api.post("/api/v1/reviews/samples", {"month": this_month(), "partial": True}).json()
    url = f"/api/v1/reviews/{sample['review_ids'][0]}"
    assert_problem(api.post(url, {"shortened": "yes", "reason": "x"}), 422, "validation-error",
                   "/shortened")
    assert_problem(api.post(url, {"shortened": True}), 422, "validation-error", "/reason")
    assert_problem(api.post("/api/v1/reviews/rev_00000000000000000000",
                            {"shortened": True, "reason": "x"}), 404, "not-found")
    for q in ("?month=2026-13", "?status=maybe", "?limit=0", "?after=x"):
        assert_problem(api.get("/api/v1/reviews" + q), 400, "bad-request")
    for q in ("?month=26", "?min_reviews=0", "?min_acceptance=2", "?max_confirmed=x"):
        assert_problem(api.get("/api/v1/reviews/report" + q), 400, "bad-request")


# ---- the decision-chain KPI (acceptance 5) ----------------------------------------------------

def quarter(date):
    return f"{date.year}Q{(date.month + 2) // 3}"


def quantile(values, p):
    """Linear interpolation between order statistics (numpy's default)."""
    v = sorted(values)
    h = (len(v) - 1) * p
    lo = int(h)
    return v[lo] if lo + 1 >= len(v) else v[lo] + (h - lo) * (v[lo + 1] - v[lo])


@pytest.fixture(scope="module")
def crm_kpi(server):
    """The real pipeline imported with the demo's mappings, and the CSV."""
    _, api = extra_tenant(server, "kpi")
    for f in mapping("custom_fields.json"):
        api.create("fields", f)
    for csv_name, mapping_name in (("products.csv", "products.json"),
                                   ("accounts.csv", "accounts.json"),
                                   ("sales_teams.csv", "sales_managers.json"),
                                   ("sales_teams.csv", "sales_agents.json"),
                                   ("sales_pipeline.csv", "sales_pipeline.json")):
        job, _ = run_import(api, os.path.join(PIPELINE_DIR, csv_name), mapping(mapping_name))
        assert job["status"] == "succeeded" and job["failed"] == 0, job
    decided = [r for r in pipeline("sales_pipeline.csv") if r["deal_stage"] in ("Won", "Lost")]
    for r in decided:
        r["days"] = (dt.date.fromisoformat(r["close_date"]) -
                     dt.date.fromisoformat(r["engage_date"])).days
        r["quarter"] = quarter(dt.date.fromisoformat(r["close_date"]))
    return api, decided


def test_median_engage_to_close_days_per_quarter_match_the_csv(crm_kpi):
    api, decided = crm_kpi
    kpi = get_json(api, "/api/v1/kpis/decision-chain?group=quarter")
    assert kpi["group"] == "quarter" and kpi["basis"] == "close_date"
    got = {g["key"]: g for g in kpi["data"]}
    q2 = [r["days"] for r in decided if r["quarter"] == "2017Q2"]
    assert got["2017Q2"]["count"] == len(q2) == 2032
    assert got["2017Q2"]["median_days"] == statistics.median(q2) == 37
    for key in {r["quarter"] for r in decided}:
        days = [r["days"] for r in decided if r["quarter"] == key]
        g = got[key]
        assert g["count"] == len(days), key
        assert g["median_days"] == statistics.median(days), key
        assert g["p25_days"] == pytest.approx(quantile(days, 0.25)), key
        assert g["p75_days"] == pytest.approx(quantile(days, 0.75)), key
        assert g["won"] == sum(1 for r in decided if r["quarter"] == key and r["deal_stage"] == "Won")
    assert kpi["total"]["count"] == len(decided) == 6711
    assert kpi["compare"] is None


def test_kpi_by_owner_product_month_and_periods(crm_kpi):
    api, decided = crm_kpi
    by_owner = get_json(api, "/api/v1/kpis/decision-chain?group=owner")["data"]
    agents = {r["sales_agent"] for r in decided}
    assert {g["label"] for g in by_owner} == agents
    darcel = next(g for g in by_owner if g["label"] == "Darcel Schlecht")
    days = [r["days"] for r in decided if r["sales_agent"] == "Darcel Schlecht"]
    assert (darcel["count"], darcel["median_days"]) == (len(days), statistics.median(days))
    by_product = {g["label"]: g for g in get_json(api, "/api/v1/kpis/decision-chain?group=product")["data"]}
    gtx_pro = [r["days"] for r in decided if r["product"] == "GTXPro"]
    assert by_product["GTX Pro"]["median_days"] == statistics.median(gtx_pro)

    june = get_json(api, "/api/v1/kpis/decision-chain?group=month&from=2017-06-01&to=2017-06-30")
    days = [r["days"] for r in decided if r["close_date"].startswith("2017-06")]
    assert [g["key"] for g in june["data"]] == ["2017-06"]
    assert june["total"]["median_days"] == statistics.median(days)
    assert (june["from"], june["to"]) == ("2017-06-01", "2017-06-30")

    cmp_ = get_json(api, "/api/v1/kpis/decision-chain?compare=2017Q1,2017Q2")["compare"]
    assert (cmp_["a"]["key"], cmp_["b"]["key"]) == ("2017Q1", "2017Q2")
    q1 = statistics.median(r["days"] for r in decided if r["quarter"] == "2017Q1")
    assert cmp_["ratio"] == round(37 / q1, 4) and cmp_["ratio"] < 1    # Q2 decided faster
    assert get_json(api, "/api/v1/kpis/decision-chain?compare=2016Q1,2017Q2")["compare"][
        "ratio"] is None


def test_kpi_parameters_are_checked(team):
    _, api, _ = team
    for q in ("group=week", "from=2017-13-01", "to=yesterday", "compare=2017Q1",
              "compare=2017Q1,2017-02", "compare=2017Q5,2017Q1", "group=month&compare=2017Q1,2017Q2",
              "from=2017-06-02&to=2017-06-01"):
        assert_problem(api.get("/api/v1/kpis/decision-chain?" + q), 400, "bad-request")


def test_kpi_compares_deals_that_followed_suggestions(team):
    _, api, customer = team
    other = api.create("customers", {"name": "No Advice Ltd"})
    today = dt.date.today()

    def deal(cust, engaged_days_ago):
        d = api.create("deals", {"name": "d", "customer_id": cust["id"],
                                 "engage_date": str(today - dt.timedelta(days=engaged_days_ago)),
                                 "stage": "engaging"})
        return d

    followed = deal(customer, 10)
    s = suggest(api, customer, deal_id=followed["id"])
    assert api.post(f"/api/v1/suggestions/{s['id']}/accept").status_code == 200
    api.patch(f"/api/v1/deals/{followed['id']}", {"stage": "won"})
    for ago in (30, 40):
        d = deal(other, ago)
        api.patch(f"/api/v1/deals/{d['id']}", {"stage": "lost"})
    # advice accepted after the decision does not count
    late_c = api.create("customers", {"name": "Late Advice Ltd"})
    api.create("deals", {"name": "late", "customer_id": late_c["id"], "stage": "won",
                         "engage_date": str(today - dt.timedelta(days=25)),
                         "close_date": str(today - dt.timedelta(days=5))})
    s = suggest(api, late_c)
    assert api.post(f"/api/v1/suggestions/{s['id']}/accept").status_code == 200
    kpi = get_json(api, "/api/v1/kpis/decision-chain?compare=suggestions")
    c = kpi["compare"]
    assert c["by"] == "suggestions"
    assert (c["b"]["key"], c["b"]["count"], c["b"]["median_days"], c["b"]["won"]) == \
        ("with", 1, 10, 1)
    assert (c["a"]["key"], c["a"]["count"], c["a"]["median_days"], c["a"]["lost"]) == \
        ("without", 3, 30, 2)
    assert c["ratio"] == round(10 / 30, 4)
    assert kpi["total"]["count"] == 4


def test_rule_status_and_history_are_not_for_clients_to_rewrite(team):
    api = team[1]
    s = api.create("suggestions", {"title": "x", "customer_id": team[2]["id"], "rule": "pack/a"})
    assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {"rule": "pack/b"}), 422,
                   "validation-error", "/rule")
    assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {"status": "expired"}), 422,
                   "validation-error", "/status")
    r = api.post(f"/api/v1/suggestions/{s['id']}/dismiss", {"reason": "not relevant"})
    assert r.status_code == 200, r.text
    assert_problem(api.patch(f"/api/v1/suggestions/{s['id']}", {"title": "rewritten"}), 409,
                   "decided")
