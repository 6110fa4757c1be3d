"""List features the UI leans on: fetching by ids, facets, enum order,
and a user's own settings."""
from conftest import unique
from helpers import add_user, assert_problem, sign_in


def test_id_in_fetches_several_records(alpha):
    ids = [alpha.create("customers", {"name": unique("many")})["id"] for _ in range(3)]
    r = alpha.get("/api/v1/customers?id[in]=" + ",".join(ids) + "&limit=10")
    assert sorted(c["id"] for c in r.json()["data"]) == sorted(ids)


def test_facets_count_values_within_filters(alpha):
    sector = unique("sector")
    for region in ["North", "North", "South"]:
        alpha.create("customers", {"name": unique("f"), "sector": sector, "region": region})
    r = alpha.get(f"/api/v1/customers/facets?fields=region&sector={sector}")
    assert r.status_code == 200
    assert r.json()["data"]["region"] == [{"value": "North", "count": 2},
                                          {"value": "South", "count": 1}]


def test_facets_refuse_unknown_and_hidden_fields(alpha, server):
    assert_problem(alpha.get("/api/v1/customers/facets?fields=nope"), 400, "unknown-field")
    assert_problem(alpha.get("/api/v1/customers/facets"), 400)


def test_enum_sort_follows_the_choices(alpha):
    kind = unique("prio")
    for p in ["high", "low", "critical", "medium"]:
        alpha.create("tickets", {"subject": kind, "priority": p, "type": kind})
    r = alpha.get(f"/api/v1/tickets?type={kind}&sort=priority&limit=2")
    first = [t["priority"] for t in r.json()["data"]]
    r2 = alpha.get(f"/api/v1/tickets?type={kind}&sort=priority&limit=2&after={r.json()['next']}")
    assert first + [t["priority"] for t in r2.json()["data"]] == ["low", "medium", "high", "critical"]


def test_users_change_their_own_language_only(alpha, server):
    user = add_user(alpha, "sales")
    me = sign_in(server, server.tenants["alpha"]["slug"], user["email"], user["password"])
    r = me.patch(f"/api/v1/users/{user['id']}", {"locale": "zh"})
    assert r.status_code == 200 and r.json()["locale"] == "zh"
    assert_problem(me.patch(f"/api/v1/users/{user['id']}", {"role": "admin"}), 403, "forbidden")
