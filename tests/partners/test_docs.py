"""The OpenAPI schema, Swagger UI and Redoc are served by the platform, with their assets bundled (no internet)."""

import pytest
from django.contrib.staticfiles import finders

from tests.partners.conftest import API

pytestmark = pytest.mark.django_db


def test_the_schema_describes_every_endpoint_and_its_problems(client):
    response = client.get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert len(schema["paths"]) == 16
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the partner, created in the admin (Partner API → Partners).",
    }
    upsert = schema["paths"][f"{API}/profiles/"]["post"]
    assert {"200", "201", "400", "401", "403", "409", "413", "415", "422", "429"} <= set(upsert["responses"])
    assert "application/problem+json" in upsert["responses"]["409"]["content"]
    assert "Retry-After" in upsert["responses"]["429"]["headers"]
    assert any(parameter["name"] == "Idempotency-Key" for parameter in upsert["parameters"])


@pytest.mark.parametrize(("page", "asset"), [("docs", "swagger-ui-bundle.js"), ("redoc", "redoc.standalone.js")])
def test_the_documentation_pages_use_bundled_assets(client, page, asset):
    html = client.get(f"{API}/{page}/").content.decode()

    assert "/static/drf_spectacular_sidecar/" in html and asset in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    bundled = [path for path in html.split('"') if path.startswith("/static/") and path.endswith(asset)]
    assert bundled and finders.find(bundled[0].removeprefix("/static/"))
