"""Records over their life: reopening, deleting, and anonymous floods."""
import requests

from conftest import unique
from helpers import assert_problem


def test_history_outlives_the_record(alpha):
    c = alpha.create("customers", {"name": unique("gone")})
    alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "B"})
    assert alpha.delete(f"/api/v1/customers/{c['id']}").status_code == 204
    r = alpha.get(f"/api/v1/customers/{c['id']}/history")
    assert r.status_code == 200
    assert [row["action"] for row in r.json()["data"]] == ["delete", "update", "create"]


def test_history_of_a_never_existing_id_is_404(alpha):
    assert_problem(alpha.get("/api/v1/customers/cus_00000000000000000000/history"), 404,
                   "not-found")


def test_reopened_ticket_is_not_resolved(alpha):
    t = alpha.create("tickets", {"subject": "printer on fire"})
    r = alpha.patch(f"/api/v1/tickets/{t['id']}", {"status": "resolved"})
    assert r.json()["resolved_at"] is not None
    r = alpha.patch(f"/api/v1/tickets/{t['id']}", {"status": "open"})
    assert r.json()["status"] == "open"
    assert r.json()["resolved_at"] is None


def test_reopened_deal_loses_its_close_date(alpha):
    d = alpha.create("deals", {"name": unique("deal"), "stage": "won"})
    assert d["close_date"] is not None
    r = alpha.patch(f"/api/v1/deals/{d['id']}", {"stage": "engaging"})
    assert r.json()["close_date"] is None
    assert r.json()["engage_date"] is not None


def test_anonymous_flood_meets_the_rate_limit(make_server):
    s = make_server("--rate-limit", "1", "--rate-burst", "5")
    statuses = [requests.get(s.base + "/api/v1/customers", timeout=5).status_code
                for _ in range(12)]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]
