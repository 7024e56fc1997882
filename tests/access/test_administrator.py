"""Logged in as paul, a staff user in the Administrator group (not a superuser): every page opens, erasure works."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from partners.models import ApiKey, Partner
from profiles.models import Identifier, PrivacyAction, PrivacyLog, Profile
from tests.access.test_marketer import HER_PAGES, NOT_HERS, changelist, listed_on_home, name
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db


def test_paul_is_not_a_superuser_but_the_home_lists_every_page(paul):
    assert not get_user_model().objects.get(username="paul").is_superuser

    listed = listed_on_home(paul)

    for model in [*HER_PAGES, *NOT_HERS]:
        assert listed.get(changelist(model)) == name(model), f"{name(model)} is not on paul's home"


@pytest.mark.parametrize("model", [*HER_PAGES, *NOT_HERS], ids=name)
def test_every_page_opens(paul, model):
    assert paul.get(changelist(model)).status_code == 200


def test_he_creates_an_api_key(paul):
    partner = Partner.objects.create(name="Agency", slug="agency")
    assert paul.get(reverse("admin:partners_apikey_add")).status_code == 200

    response = paul.post(reverse("admin:partners_apikey_add"), {"partner": partner.pk, "name": "shop"}, follow=True)

    assert response.status_code == 200
    assert ApiKey.objects.get(partner=partner).name == "shop"
    assert any("New API key for Agency" in str(message) for message in response.context["messages"])


def test_he_erases_the_personal_data_of_a_person(paul, alice, bob):
    erase_url = reverse("admin:profiles_profile_gdpr_erase", args=[alice.pk])
    page = paul.get(reverse("admin:profiles_profile_change", args=[alice.pk])).content.decode()
    assert erase_url in page and "Erase personal data (GDPR)" in page

    response = paul.post(erase_url, {"reason": "request 13"})

    assert response.status_code == 302
    assert not Profile.objects.filter(pk=alice.pk).exists()
    assert not Identifier.objects.filter(value=ALICE_EMAIL).exists()
    assert PrivacyLog.objects.get(action=PrivacyAction.ERASURE).actor == "paul"
    assert Profile.objects.filter(pk=bob.pk).exists()


def test_he_puts_a_new_colleague_in_the_marketer_group(paul):
    colleague = get_user_model().objects.create_user("lea", is_staff=True)
    page = paul.get(reverse("admin:auth_user_change", args=[colleague.pk]))
    assert page.status_code == 200

    colleague.groups.add(Group.objects.get(name="Marketer"))  # what the form's "groups" box does

    assert colleague.has_perm("segments.add_segment") and not colleague.has_perm("partners.view_apikey")
