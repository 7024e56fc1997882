"""Logged in as sam, a staff user in no group: the admin opens, and shows nothing."""

import pytest
from django.urls import reverse

from tests.access.test_marketer import HER_PAGES, HOME, NOT_HERS, changelist, name

pytestmark = pytest.mark.django_db


def test_the_home_lists_no_page(sam):
    response = sam.get(HOME)

    assert response.status_code == 200
    assert response.context["app_list"] == []
    page = response.content.decode()
    for model in [*HER_PAGES, *NOT_HERS]:
        assert f'href="{changelist(model)}"' not in page


@pytest.mark.parametrize("model", [*HER_PAGES, *NOT_HERS], ids=name)
def test_every_page_is_refused(sam, model):
    assert sam.get(changelist(model)).status_code == 403


def test_the_profile_buttons_are_refused(sam, alice):
    for button in ("change", "gdpr_erase", "gdpr_export", "record_consent", "do_not_contact"):
        assert sam.get(reverse(f"admin:profiles_profile_{button}", args=[alice.pk])).status_code == 403, button
