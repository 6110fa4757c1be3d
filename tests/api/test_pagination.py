"""Cursor pagination, sorting, filters and counts on lists."""
import base64
import json

import pytest

from helpers import all_pages, assert_problem, extra_tenant, get_json

N = 23   # > 4 pages of 5


@pytest.fixture(scope="module")
def tenant(server):
    """A tenant of its own with N customers whose sort fields have ties and
    nulls, and deals with dates; records in creation order."""
    _, api = extra_tenant(server, "pages")
    customers = []
    for i in range(N):
        body = {"name": f"c{(i * 7) % N:02d}",                      # distinct, shuffled
                "revenue": None if i % 4 == 0 else float((i * 5) % 6),   # nulls and ties
                "employees": i * 10,
                "sector": None if i % 3 == 0 else ["food", "tech"][i % 2],
                "country": "DE" if i < 12 else "FR"}
        customers.append(api.create("customers", body))
    deals = []
    for i in range(12):
        deals.append(api.create("deals", {
            "name": f"d{i}", "amount": 100 * i, "stage": "won" if i % 2 else "lost",
            "engage_date": f"2024-0{1 + i % 6}-01", "close_date": f"2024-{1 + i:02d}-15",
            "expected_close_date": None if i % 3 else f"2025-{1 + i:02d}-01"}))
    return api, customers, deals


def expected_order(records, field, desc):
    """Ascending: nulls first, then by value, ties in creation order;
    descending is the exact reverse."""
    idx = {r["id"]: i for i, r in enumerate(records)}
    asc = sorted(records, key=lambda r: (r[field] is not None, r[field] or 0 if not isinstance(
        r[field], str) else r[field], idx[r["id"]]))
    return [r["id"] for r in (asc[::-1] if desc else asc)]


def ids(records):
    return [r["id"] for r in records]


def test_default_order_is_newest_first(tenant):
    api, customers, _ = tenant
    got, pages = all_pages(api, "/api/v1/customers", limit=5)
    assert pages == 5
    assert ids(got) == ids(customers)[::-1]
    first = get_json(api, "/api/v1/customers")
    assert len(first["data"]) == N and first["next"] is None   # default limit 25


@pytest.mark.parametrize("sort", ["name", "-name", "revenue", "-revenue", "employees",
                                  "-employees", "sector", "-sector", "created_at",
                                  "-created_at", "updated_at", "-updated_at"])
def test_every_record_exactly_once_in_order(tenant, sort):
    api, customers, _ = tenant
    field, desc = sort.lstrip("-"), sort.startswith("-")
    got, pages = all_pages(api, f"/api/v1/customers?sort={sort}", limit=5)
    assert pages == 5
    assert len(got) == N and len(set(ids(got))) == N
    if field in ("created_at", "updated_at"):
        want = ids(customers)[::-1] if desc else ids(customers)
    else:
        want = expected_order(customers, field, desc)
    assert ids(got) == want


@pytest.mark.parametrize("sort", ["expected_close_date", "-expected_close_date", "-amount",
                                  "close_date"])
def test_deal_sorts_with_nulls(tenant, sort):
    api, _, deals = tenant
    got, pages = all_pages(api, f"/api/v1/deals?sort={sort}", limit=3)
    assert pages == 4
    assert ids(got) == expected_order(deals, sort.lstrip("-"), sort.startswith("-"))


def test_filters_with_paging(tenant):
    api, customers, _ = tenant
    want = [c for c in customers if c["revenue"] is not None and 2 <= c["revenue"] < 5
            and c["country"] == "DE"]
    assert len(want) >= 4
    got, _ = all_pages(api, "/api/v1/customers?revenue[gte]=2&revenue[lt]=5&country=DE"
                            "&sort=employees", limit=2)
    assert ids(got) == [c["id"] for c in sorted(want, key=lambda c: c["employees"])]


def test_number_filters(tenant):
    api, customers, _ = tenant

    def q(query):
        return sorted(ids(all_pages(api, "/api/v1/customers?" + query, limit=200)[0]))

    def where(pred):
        return sorted(c["id"] for c in customers if pred(c))

    assert q("employees=50") == where(lambda c: c["employees"] == 50)
    assert q("employees[gt]=150") == where(lambda c: c["employees"] > 150)
    assert q("employees[lte]=30") == where(lambda c: c["employees"] <= 30)
    assert q("employees[ne]=0") == where(lambda c: c["employees"] != 0)
    assert q("employees[in]=10,20,999") == where(lambda c: c["employees"] in (10, 20))
    assert q("revenue[null]=true") == where(lambda c: c["revenue"] is None)
    assert q("revenue[null]=false&revenue[lt]=1") == where(
        lambda c: c["revenue"] is not None and c["revenue"] < 1)
    assert q("revenue[ne]=3") == where(lambda c: c["revenue"] != 3)
    assert q("sector=food&employees[gte]=100") == where(
        lambda c: c["sector"] == "food" and c["employees"] >= 100)
    assert q("name[contains]=c1") == where(lambda c: "c1" in c["name"])
    assert q("name=nobody") == []


def test_date_filters(tenant):
    api, _, deals = tenant

    def q(query):
        return sorted(ids(all_pages(api, "/api/v1/deals?" + query, limit=200)[0]))

    def where(pred):
        return sorted(d["id"] for d in deals if pred(d))

    assert q("close_date[gte]=2024-03-01&close_date[lte]=2024-06-30") == where(
        lambda d: "2024-03-01" <= d["close_date"] <= "2024-06-30")
    assert q("engage_date=2024-02-01") == where(lambda d: d["engage_date"] == "2024-02-01")
    assert q("expected_close_date[gt]=2025-05-01") == where(
        lambda d: d["expected_close_date"] is not None and d["expected_close_date"] > "2025-05-01")
    assert q("amount[gte]=500&stage=won") == where(lambda d: d["amount"] >= 500 and d["stage"] == "won")
    mid = deals[6]["created_at"]
    assert q(f"created_at[gte]={mid}") == sorted(d["id"] for d in deals if d["created_at"] >= mid)
    assert_problem(api.get("/api/v1/deals?close_date[gte]=next-week"), 400, "bad-request")
    assert_problem(api.get("/api/v1/deals?amount[gt]=lots"), 400, "bad-request")


def test_count(tenant):
    api, customers, _ = tenant
    page = get_json(api, "/api/v1/customers?count=true&limit=5&country=FR")
    fr = [c for c in customers if c["country"] == "FR"]
    assert page["total"] == len(fr) and len(page["data"]) == 5
    page2 = get_json(api, f"/api/v1/customers?count=true&limit=5&country=FR&after={page['next']}")
    assert page2["total"] == len(fr)
    assert get_json(api, "/api/v1/customers?count=true")["total"] == N
    assert "total" not in get_json(api, "/api/v1/customers?limit=1")


def test_limits(tenant):
    api, _, _ = tenant
    assert len(get_json(api, "/api/v1/customers?limit=1")["data"]) == 1
    for bad in ("0", "201", "-1", "ten", ""):
        assert_problem(api.get(f"/api/v1/customers?limit={bad}"), 400, "bad-request")


@pytest.mark.parametrize("sort", ["phone", "nosuch", "-website", "attrs.x", "doc", "rid",
                                  "tenant_id", "name desc", "--name"])
def test_sort_outside_the_allow_list(alpha, sort):
    assert_problem(alpha.get(f"/api/v1/customers?sort={sort}"), 400, "bad-sort")


@pytest.mark.parametrize("query,type_", [
    ("nosuch=1", "unknown-field"), ("phone=1", "unknown-field"), ("doc=1", "unknown-field"),
    ("tenant_id=1", "unknown-field"), ("rid=1", "unknown-field"), ("attrs.nosuch=1", "unknown-field"),
    ("name[like]=x", "bad-request"), ("name[]=x", "bad-request"), ("name[eq=x", "bad-request"),
    ("employees[contains]=1", "bad-request"), ("kind[gt]=a", "bad-request"),
    ("revenue[null]=maybe", "bad-request"), ("name[in]=", "bad-request")])
def test_unknown_filter(alpha, query, type_):
    assert_problem(alpha.get(f"/api/v1/customers?{query}"), 400, type_)


def test_bad_cursors(tenant):
    api, _, _ = tenant
    first = get_json(api, "/api/v1/customers?sort=name&limit=5")
    cur = first["next"]
    assert get_json(api, f"/api/v1/customers?sort=name&limit=5&after={cur}")["data"]

    def b64(v):
        return base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")

    raw = base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4)).decode()
    flipped = cur[:3] + ("A" if cur[3] != "A" else "B") + cur[4:]
    tampered = [
        "garbage!!",                                   # not base64url
        flipped,                                       # corrupted bytes
        cur[: len(cur) // 2],                          # truncated
        b64("not a list"),
        b64(json.loads(raw)[:2]),                      # missing the row position
        b64([json.loads(raw)[0], {"$gt": ""}, 5]),    # an object as the sort value
        "A" * 1025,                                    # too long
    ]
    for t in tampered:
        assert_problem(api.get(f"/api/v1/customers?sort=name&limit=5&after={t}"), 400,
                       "bad-cursor")
    # a cursor of another sort, direction or list
    assert_problem(api.get(f"/api/v1/customers?sort=revenue&after={cur}"), 400, "bad-cursor")
    assert_problem(api.get(f"/api/v1/customers?sort=-name&after={cur}"), 400, "bad-cursor")
    deal_cur = get_json(api, "/api/v1/deals?limit=2")["next"]
    assert_problem(api.get(f"/api/v1/customers?after={deal_cur}"), 400, "bad-cursor")
    default_cur = get_json(api, "/api/v1/customers?limit=2")["next"]
    assert_problem(api.get(f"/api/v1/customers?sort=created_at&after={default_cur}"), 400,
                   "bad-cursor")
