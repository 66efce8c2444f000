"""Before the models are loaded the API answers 503 with Retry-After, never a 500."""

from fastapi.testclient import TestClient

from app.main import create_app
from app.runtime import Runtime


def test_requests_before_models_load_get_503_and_readyz_says_why(runtime):
    loading = Runtime(runtime.settings)  # same database, nothing loaded yet
    try:
        with TestClient(create_app(runtime=loading)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["ready"] is False and ready.json()["stage"] == "starting"
            response = client.post("/api/v1/comparisons", json={"query": "hi"})
            assert response.status_code == 503
            assert "loading" in response.json()["detail"]
            assert int(response.headers["retry-after"]) > 0
            assert client.get("/healthz").status_code == 200
    finally:
        loading.close()
