"""The groups page says what each role may do, and a role cannot be changed or deleted by hand."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_groups_list_says_what_each_role_may_do(paul):
    page = paul.get(reverse("admin:auth_group_changelist")).content.decode()

    assert "no erasure of personal data (GDPR)" in page  # the Marketer's description
    assert "partners and API keys, users and groups" in page  # the Administrator's


def test_a_role_is_shown_read_only_and_is_not_changed_by_a_post(paul):
    marketer = Group.objects.get(name="Marketer")
    url = reverse("admin:auth_group_change", args=[marketer.pk])
    before = set(marketer.permissions.values_list("pk", flat=True))

    page = paul.get(url).content.decode()
    assert "Kept in step by the platform at each update" in page
    assert 'name="_save"' not in page

    api_keys = Permission.objects.get(codename="view_apikey")
    response = paul.post(url, {"name": "Marketeers", "permissions": [api_keys.pk]})

    assert response.status_code == 403
    marketer.refresh_from_db()
    assert marketer.name == "Marketer" and set(marketer.permissions.values_list("pk", flat=True)) == before


def test_a_role_cannot_be_deleted_but_a_group_made_by_hand_can(paul):
    administrator = Group.objects.get(name="Administrator")
    interns = Group.objects.create(name="Interns")

    assert paul.post(reverse("admin:auth_group_delete", args=[administrator.pk]), {"post": "yes"}).status_code == 403
    assert paul.post(reverse("admin:auth_group_delete", args=[interns.pk]), {"post": "yes"}).status_code == 302

    assert set(Group.objects.values_list("name", flat=True)) == {"Marketer", "Administrator"}
