import pytest

from cdp.celery import app as celery_app


@pytest.mark.django_db
def test_health_reports_database_and_broker_ok(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("broker_url", ["redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1:5672//"])
def test_health_checks_a_production_broker(client, monkeypatch, broker_url):
    monkeypatch.setattr(celery_app.conf, "broker_url", broker_url)

    response = client.get("/health/")

    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_health_says_which_peer_is_down(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens there

    response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")
