"""Scenarios, health, readiness and the OpenAPI schema."""


def test_scenarios_list_the_demo_with_its_contents(client):
    [scenario] = [s for s in client.get("/api/v1/scenarios").json() if s["slug"] == "northwind"]
    assert scenario["documents"] >= 40 and scenario["chunks"] >= scenario["documents"]
    assert scenario["examples"] >= 500
    assert scenario["active_adapter"].startswith("northwind-demo-")
    assert client.get("/api/v1/scenarios/northwind").json() == scenario
    assert client.get("/api/v1/scenarios/unknown").status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["engine"] == "llamacpp"


def test_openapi_documents_the_contract_with_examples(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/comparisons",
        "/api/v1/comparisons/{comparison_id}",
        "/api/v1/comparisons/export",
        "/api/v1/scenarios",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
    assert "201" in paths["/api/v1/comparisons"]["post"]["responses"]
    create = schema["components"]["schemas"]["ComparisonCreate"]
    assert create["examples"][0]["query"]
