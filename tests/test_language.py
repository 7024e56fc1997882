import pytest


@pytest.mark.django_db
def test_the_admin_speaks_french_to_a_french_browser(admin_client):
    response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Plateforme de données clients" in content
    assert "Customer data platform" not in content


@pytest.mark.django_db
def test_the_language_chosen_in_the_header_sticks(admin_client):
    response = admin_client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})

    assert response.status_code == 302
    assert "Plateforme de données clients" in admin_client.get("/admin/").content.decode()
