"""Acceptance 3 of the intelligence issue with the shipped default rules
(lua/packs/next-best-action): a ticket with negative sentiment and a
delivery-risk intent makes one suggestion with its evidence; accepting it
is audited; the same signals again make no second suggestion."""
from conftest import unique
from helpers import extra_tenant
from pack_helpers import folder_files, publish, upload, wait_for, zip_pack

LATE = "这批货什么时候能到？物流太慢了，交货期一再延误，我们很不满意"


def test_delivery_risk_ticket_to_one_audited_suggestion(server):
    _, api = extra_tenant(server, "nba")
    v = upload(api, zip_pack(folder_files("next-best-action")))
    assert v["publishable"] is True and v["tests"]["passed"] >= 4, v["tests"]
    publish(api, v["pack_id"], "1.0.0")
    cust = api.create("customers", {"name": unique("华强")})
    deal = api.create("deals", {"name": "2027 supply", "customer_id": cust["id"],
                                "stage": "engaging", "amount": 50000})
    ticket = api.create("tickets", {"subject": "货还没到", "description": LATE,
                                    "customer_id": cust["id"]})

    def mine():
        r = api.get(f"/api/v1/suggestions?customer_id={cust['id']}")
        assert r.status_code == 200, r.text
        return r.json()["data"]
    s = wait_for(mine, what="the suggestion")
    assert len(s) == 1
    s = s[0]
    assert s["rule"] == "next-best-action/delivery-risk"
    assert s["rule_version"] == "1.0.0"
    assert s["title"] == "Hold the quote; settle the delivery commitment first"
    assert s["deal_id"] == deal["id"] and s["status"] == "open"
    intents = {e["intent"]: e for e in s["evidence"] if e["kind"] == "intent"}
    assert set(intents) == {"delivery_risk", "logistics_anxiety"}, s["evidence"]
    assert all(e["object_id"] == ticket["id"] for e in intents.values())
    assert "交货期" in [t["term"] for t in intents["delivery_risk"]["terms"]]
    terms = [t["term"] for t in intents["logistics_anxiety"]["terms"]]
    assert "什么时候能到" in terms and "物流太慢了" in terms, terms
    sentiment = s["evidence"][-1]
    assert sentiment["kind"] == "sentiment" and sentiment["score"] < -0.3

    r = api.post(f"/api/v1/suggestions/{s['id']}/accept")
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    hist = api.get(f"/api/v1/suggestions/{s['id']}/history").json()["data"]
    assert hist[0]["changes"]["status"] == ["open", "accepted"]
    assert hist[0]["actor_type"] == "api_key"

    # the same signals again: still one suggestion, counted twice
    api.create("tickets", {"subject": "货还没到", "description": LATE, "customer_id": cust["id"]})
    again = wait_for(lambda: [x for x in mine() if x["occurrences"] == 2], what="the merge")
    assert len(mine()) == 1 and again[0]["id"] == s["id"]
    assert again[0]["status"] == "accepted"
    assert api.get("/api/v1/audit/verify").json()["ok"] is True
