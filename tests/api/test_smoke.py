"""First contact: the server answers, documents itself and does CRUD."""
from conftest import unique


def test_openapi_is_31(server, anon):
    r = anon.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/customers" in doc["paths"]


def test_customer_crud(alpha):
    c = alpha.create("customers", {"name": "北京华为", "email": "ops@Example.COM", "revenue": 12.5})
    assert c["name"] == "北京华为"
    assert c["email"] == "ops@example.com"
    assert c["version"] == 1
    r = alpha.get(f"/api/v1/customers/{c['id']}")
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    r = alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "A"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["tier"] == "A" and r.json()["version"] == 2
    r = alpha.patch(f"/api/v1/customers/{c['id']}", {"tier": "B"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.json()["type"] == "/problems/version-mismatch"
    r = alpha.delete(f"/api/v1/customers/{c['id']}")
    assert r.status_code == 204
    assert alpha.get(f"/api/v1/customers/{c['id']}").status_code == 404


def test_other_tenant_sees_404(alpha, beta):
    c = alpha.create("customers", {"name": unique("secret")})
    r = beta.get(f"/api/v1/customers/{c['id']}")
    assert r.status_code == 404
    assert r.json()["status"] == 404
