"""The marketers' screens on segments: builder, live preview, saving, refresh, uploaded lists, overlap, deleting."""

import datetime
import json
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from profiles.models import Event
from profiles.services import profile_update
from segments.models import (
    RefreshStatus,
    RefreshTrigger,
    Segment,
    SegmentKind,
    SegmentMembership,
    SegmentMembershipChange,
    SegmentRefresh,
)
from segments.selectors import segment_membership_history, segment_overlap, segments_needing_attention
from segments.services import segment_refresh, segment_save
from segments.tasks import segment_refresh_task
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:segments_segment_changelist")
ADD = reverse("admin:segments_segment_add")
PREVIEW = reverse("admin:segments_segment_preview")


def url(name: str, segment: Segment) -> str:
    return reverse(f"admin:segments_segment_{name}", args=[segment.pk])


def condition(field: str, operator: str, value=None, **extra) -> dict:
    node = {"field": field, "operator": operator, **extra}
    if value is not None:
        node["value"] = value
    return node


def rules(*conditions: dict, match: str = "all") -> dict:
    return {"match": match, "conditions": list(conditions)}


def in_city(*cities: str) -> dict:
    return rules(condition("city", "in", list(cities)))


def segment_with(name: str, segment_rules: dict, *, refresh: bool = True, **fields) -> Segment:
    fields.setdefault("refresh_every", "never")
    segment = segment_save(segment=Segment(name=name, **fields), rules=segment_rules)
    if refresh:
        segment_refresh(segment=segment)
        segment.refresh_from_db()
    return segment


def form_data(**fields) -> dict:
    data = {
        "name": "Lyon and Nantes",
        "description": "",
        "kind": SegmentKind.RULES,
        "rules": json.dumps(in_city("Lyon", "Nantes")),
        "holdout_percent": "10",
        "refresh_every": "day",
    }
    data.update(fields)
    return data


def preview(client, segment_rules, segment_id=None):
    response = client.post(
        PREVIEW, json.dumps({"rules": segment_rules, "segment_id": segment_id}), content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def catalogue_of(response) -> dict:
    found = re.search(
        r'<script id="id_rules_catalogue" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert found, "the rule builder's catalogue is not on the page"
    return json.loads(found.group(1))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# ---------------------------------------------------------------------------
# The builder


def test_the_builder_page_carries_the_catalogue_in_the_marketer_s_words(admin_client, alice, bob):
    profile_update(profile=alice, traits={"loyalty_tier": "gold", "loyalty_points": 120, "member_since": "2020-01-31"})
    Event.objects.create(profile=bob, type="newsletter_signup", occurred_at=timezone.now())
    other = segment_with("Lyon", in_city("Lyon"), refresh=False)

    response = admin_client.get(ADD)

    content = response.content.decode()
    assert response.status_code == 200
    assert "data-rule-builder" in content and "segments/rule_builder.js" in content
    catalogue = catalogue_of(response)
    assert catalogue["fields"]["city"]["label"] == "City"
    assert catalogue["fields"]["event"]["label"] == "Did an action (event)"
    assert catalogue["fields"]["birth_date"]["operators"][:3] == ["on", "before", "after"]
    assert catalogue["operators"]["in"] == {"label": "is one of", "shape": "list"}
    assert catalogue["operators"]["at_least"]["label"] == "did at least … times"
    assert ["purchase", "Purchase"] in catalogue["event_types"]
    assert ["newsletter_signup", "newsletter_signup"] in catalogue["event_types"]
    assert ["email", "Email"] in catalogue["channels"]
    assert ["crm_id", "CRM id"] in catalogue["identifier_kinds"]
    assert {"key": "loyalty_points", "kind": "number"} in catalogue["traits"]
    assert {"key": "member_since", "kind": "date"} in catalogue["traits"]
    assert {"key": "loyalty_tier", "kind": "text"} in catalogue["traits"]
    assert catalogue["segments"] == [{"id": other.pk, "name": "Lyon", "kind": "rules"}]
    assert catalogue["texts"]["add_group"] == "+ Add a group"


def test_the_catalogue_speaks_the_admin_s_language(admin_client):
    catalogue = catalogue_of(admin_client.get(ADD, HTTP_ACCEPT_LANGUAGE="fr"))

    assert catalogue["fields"]["city"]["label"] == "Ville"
    assert ["purchase", "Achat"] in catalogue["event_types"]


def test_a_segment_s_own_page_does_not_offer_it_as_a_condition(admin_client):
    lyon = segment_with("Lyon", in_city("Lyon"), refresh=False)
    nantes = segment_with("Nantes", in_city("Nantes"), refresh=False)

    catalogue = catalogue_of(admin_client.get(url("change", lyon)))

    assert catalogue["segments"] == [{"id": nantes.pk, "name": "Nantes", "kind": "rules"}]


def test_every_editable_field_has_help_text(admin_client):
    form = admin_client.get(ADD).context["adminform"].form

    assert all(field.help_text for field in form.fields.values())


# ---------------------------------------------------------------------------
# Live preview


def test_the_preview_counts_and_shows_a_sample_of_valid_rules(admin_client, alice, bob, charlie):
    result = preview(admin_client, rules(condition("city", "in", ["lyon", "Paris"])))

    assert result["count"] == 1
    assert result["errors"] == []
    assert result["sample"] == [
        {
            "id": alice.pk,
            "name": "Alice Martin",
            "identifiers": f"{ALICE_EMAIL} · CRM-001",
            "city": "Lyon",
            "url": reverse("admin:profiles_profile_change", args=[alice.pk]),
        }
    ]


def test_the_preview_of_a_and_b_or_c(admin_client, alice, bob, charlie):
    identified = condition("identity", "identified")
    lyon_or_nantes = {
        "match": "any",
        "conditions": [condition("city", "equals", "Lyon"), condition("city", "equals", "Nantes")],
    }

    result = preview(admin_client, rules(identified, lyon_or_nantes))

    assert result["count"] == 2
    assert {row["name"] for row in result["sample"]} == {"Alice Martin", "Bob Durand"}


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (
            condition("trait", "gt", "beaucoup", key="loyalty_points", value_type="number"),
            "Condition 2.1 (Custom trait): “beaucoup” is not a number.",
        ),
        (
            condition("birth_date", "on", "31/02/1990"),
            "Condition 2.1 (Birth date): “31/02/1990” is not a date (dd/mm/yyyy).",
        ),
        (condition("city", "in", []), "Condition 2.1 (City): the list is empty: enter at least one value."),
    ],
    ids=["text for a number", "impossible date", "empty list"],
)
def test_the_preview_names_the_condition_of_a_wrong_value(admin_client, alice, wrong, message):
    result = preview(admin_client, rules(condition("city", "equals", "Lyon"), {"match": "any", "conditions": [wrong]}))

    assert result == {"count": None, "sample": [], "errors": [message]}


def test_the_preview_refuses_a_segment_that_contains_itself(admin_client, alice):
    segment = segment_with("Lyon", in_city("Lyon"), refresh=False)

    result = preview(admin_client, rules(condition("segment", "in_segment", segment.pk)), segment_id=segment.pk)

    assert result["errors"] == ["Condition 1 (Segment membership): a segment cannot contain itself."]


def test_the_preview_answers_posts_of_staff_who_may_see_segments(client, admin_client, alice):
    assert admin_client.get(PREVIEW).status_code == 405
    anonymous = client.post(PREVIEW, "{}", content_type="application/json")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]

    staff = get_user_model().objects.create_user("marketer", password="x", is_staff=True)
    client.force_login(staff)
    assert (
        client.post(PREVIEW, json.dumps({"rules": in_city("Lyon")}), content_type="application/json").status_code == 403
    )
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    assert preview(client, in_city("Lyon"))["count"] == 1


def test_the_preview_is_protected_against_cross_site_posts(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("boss", password="x"))

    response = client.post(PREVIEW, json.dumps({"rules": in_city("Lyon")}), content_type="application/json")

    assert response.status_code == 403


def test_the_preview_reads_unreadable_input_as_an_error(admin_client):
    response = admin_client.post(PREVIEW, "not json", content_type="application/json")

    assert response.json()["errors"] == ["The conditions are not readable."]


# ---------------------------------------------------------------------------
# Saving


def test_saving_valid_rules_stores_them_cleaned_and_schedules_the_refresh(
    admin_client, alice, bob, django_capture_on_commit_callbacks
):
    written = rules(
        condition("city", "in", "Lyon;Nantes"),
        condition("trait", "gte", "12,5", key="loyalty_points", value_type="number"),
        match="any",
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(ADD, form_data(rules=json.dumps(written)))

    assert response.status_code == 302
    segment = Segment.objects.get(name="Lyon and Nantes")
    assert segment.rules == rules(
        condition("city", "in", ["Lyon", "Nantes"]),
        condition("trait", "gte", "12.5", key="loyalty_points", value_type="number"),
        match="any",
    )
    assert segment.created_by == "admin"
    task = PeriodicTask.objects.get(pk=segment.refresh_task_id)
    assert (task.task, task.args, task.enabled, task.crontab.hour) == (
        "segments.tasks.segment_refresh_task",
        f"[{segment.pk}]",
        True,
        "5",
    )
    # New conditions are counted at once, by the worker once the save commits.
    assert SegmentRefresh.objects.filter(segment=segment, trigger=RefreshTrigger.RULES_CHANGED).count() == 1
    assert len(callbacks) == 1

    admin_client.post(url("change", segment), form_data(rules=json.dumps(segment.rules), refresh_every="never"))
    segment.refresh_from_db()
    assert segment.refresh_task is None
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_saving_invalid_rules_changes_nothing_and_says_which_condition(admin_client, alice):
    segment = segment_with("Lyon", in_city("Lyon"))
    wrong = rules(condition("city", "equals", "Lyon"), condition("created_at", "between", ["2026-05-01", "2026-02-30"]))

    response = admin_client.post(url("change", segment), form_data(name="Renamed", rules=json.dumps(wrong)))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["rules"] == [
        "Condition 2 (Profile created): “2026-02-30” is not a date (dd/mm/yyyy)."
    ]
    assert "Condition 2 (Profile created)" in response.content.decode()
    segment.refresh_from_db()
    assert (segment.name, segment.rules) == ("Lyon", in_city("Lyon"))
    assert not SegmentRefresh.objects.filter(trigger=RefreshTrigger.RULES_CHANGED).exists()


def test_a_new_segment_with_invalid_rules_is_not_created(admin_client):
    response = admin_client.post(ADD, form_data(rules=json.dumps(rules())))

    assert response.context["adminform"].form.errors["rules"] == ["Add at least one condition."]
    assert not Segment.objects.exists()
    assert not PeriodicTask.objects.filter(task="segments.tasks.segment_refresh_task").exists()


def test_an_uploaded_list_takes_no_conditions_and_opens_its_page_for_the_file(admin_client):
    response = admin_client.post(
        ADD, form_data(name="Salon visitors", kind=SegmentKind.STATIC, rules="not even json", refresh_every="never")
    )

    segment = Segment.objects.get(name="Salon visitors")
    assert response["Location"] == url("change", segment)
    assert segment.rules == {"match": "all", "conditions": []}
    assert not SegmentRefresh.objects.exists()


# ---------------------------------------------------------------------------
# Refresh now and its progress


def test_refresh_now_queues_a_refresh_that_the_status_follows_to_the_end(
    admin_client, alice, bob, django_capture_on_commit_callbacks
):
    segment = segment_with("Lyon", in_city("Lyon"), refresh=False)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url("refresh", segment))

    assert response["Location"] == url("change", segment)
    refresh = SegmentRefresh.objects.get(segment=segment)
    assert refresh.trigger == RefreshTrigger.MANUAL
    assert len(callbacks) == 1  # the Celery task, sent once the refresh row is committed
    status = admin_client.get(url("refresh_status", segment)).json()
    assert (status["status"], status["done"], status["progress"]) == ("queued", False, None)

    segment_refresh_task(segment.pk, refresh.pk, trigger=RefreshTrigger.MANUAL)

    status = admin_client.get(url("refresh_status", segment)).json()
    assert (status["status"], status["done"], status["progress"], status["members"]) == ("succeeded", True, 100, 1)
    assert status["figures"] == {"members": "1", "treatment": "1", "control": "0"}
    assert status["summary"].startswith("Succeeded on ")


def test_refresh_now_twice_while_one_is_on_its_way_queues_one(admin_client, alice):
    segment = segment_with("Lyon", in_city("Lyon"), refresh=False)

    admin_client.post(url("refresh", segment))
    response = admin_client.post(url("refresh", segment), follow=True)

    assert SegmentRefresh.objects.filter(segment=segment).count() == 1
    assert "already on its way" in messages_of(response)[-1]


def test_a_running_refresh_is_estimated_against_the_previous_one_and_never_shown_done(admin_client, alice):
    segment = segment_with("Lyon", in_city("Lyon"))
    previous = SegmentRefresh.objects.get(segment=segment)
    now = timezone.now()
    SegmentRefresh.objects.filter(pk=previous.pk).update(
        started_at=now - datetime.timedelta(hours=1, seconds=40), finished_at=now - datetime.timedelta(hours=1)
    )
    running = SegmentRefresh.objects.create(segment=segment, trigger=RefreshTrigger.MANUAL)
    SegmentRefresh.objects.filter(pk=running.pk).update(started_at=now - datetime.timedelta(seconds=10))

    status = admin_client.get(url("refresh_status", segment)).json()
    assert status["status"] == "running"
    assert status["previous_duration"] == 40
    assert 25 <= status["progress"] <= 30

    SegmentRefresh.objects.filter(pk=running.pk).update(started_at=now - datetime.timedelta(seconds=90))
    assert admin_client.get(url("refresh_status", segment)).json()["progress"] == 95


def test_the_list_action_refreshes_each_selected_segment(admin_client, alice):
    lyon = segment_with("Lyon", in_city("Lyon"), refresh=False)
    nantes = segment_with("Nantes", in_city("Nantes"), refresh=False)

    admin_client.post(CHANGELIST, {"action": "refresh_now", "_selected_action": [lyon.pk, nantes.pk]})

    assert sorted(SegmentRefresh.objects.values_list("segment__name", "trigger")) == [
        ("Lyon", "manual"),
        ("Nantes", "manual"),
    ]


def test_the_change_page_shows_figures_refresh_button_and_history(admin_client, alice, bob):
    segment = segment_with("Lyon", in_city("Lyon"), holdout_percent=0)

    response = admin_client.get(url("change", segment))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="segment-refresh-form"' in content and 'form="segment-refresh-form"' in content
    assert url("refresh_status", segment) in content
    assert "Succeeded on " in content
    assert "1 person entered" in content
    assert response.context["history"][-1].entered == 1


# ---------------------------------------------------------------------------
# Uploaded lists


def test_an_upload_reports_the_lines_that_name_nobody_with_their_number(admin_client, alice, bob):
    segment = segment_save(segment=Segment(name="Salon", kind=SegmentKind.STATIC, refresh_every="never"))
    content = "Courriel\n Alice.Martin@Example.FR \nnobody@example.fr\nnot an email\n".encode("cp1252")

    response = admin_client.post(
        url("upload", segment), {"file": SimpleUploadedFile("salon.csv", content, "text/csv"), "mode": "replace"}
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.lines, result.matched, result.added) == (3, 1, 1)
    assert response.context["unmatched"] == [
        (3, "nobody@example.fr", "no profile has this identifier"),
        (4, "not an email", "“not an email” is not a valid email address."),
    ]
    page = response.content.decode()
    assert "nobody@example.fr" in page and "“not an email” is not a valid email address." in page
    assert set(SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)) == {alice.pk}
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_an_upload_that_is_no_list_changes_nothing(admin_client, alice):
    segment = segment_save(segment=Segment(name="Salon", kind=SegmentKind.STATIC, refresh_every="never"))

    response = admin_client.post(
        url("upload", segment), {"file": SimpleUploadedFile("empty.csv", b"  \n", "text/csv"), "mode": "add"}
    )

    assert response.context["form"].errors["file"] == ["The file is empty."]
    assert not SegmentMembership.objects.exists()


def test_the_page_of_an_uploaded_list_offers_the_upload(admin_client):
    segment = segment_save(segment=Segment(name="Salon", kind=SegmentKind.STATIC, refresh_every="never"))

    content = admin_client.get(url("change", segment)).content.decode()

    assert url("upload", segment) in content
    assert "The list is empty: upload a file" in content


def test_a_segment_built_from_rules_takes_no_file(admin_client, alice):
    segment = segment_with("Lyon", in_city("Lyon"))

    response = admin_client.post(
        url("upload", segment), {"file": SimpleUploadedFile("a.csv", b"email\nx@example.fr\n", "text/csv")}
    )

    assert response["Location"] == url("change", segment)


# ---------------------------------------------------------------------------
# Overlap


def test_the_overlap_page_counts_the_people_each_pair_shares(admin_client, alice, bob, charlie):
    lyon = segment_with("Lyon", in_city("Lyon"))
    identified = segment_with("Identified", rules(condition("identity", "identified")))
    nantes = segment_with("Nantes", in_city("Nantes"))

    response = admin_client.post(
        CHANGELIST, {"action": "compare_overlap", "_selected_action": [lyon.pk, identified.pk, nantes.pk]}
    )

    assert response.status_code == 200
    table = {
        (row["segment"].name, cell["column"].name): (cell["shared"], cell["percent"])
        for row in response.context["rows"]
        for cell in row["cells"]
    }
    assert table == {
        ("Identified", "Identified"): (2, 100),
        ("Identified", "Lyon"): (1, 50),
        ("Identified", "Nantes"): (1, 50),
        ("Lyon", "Identified"): (1, 100),
        ("Lyon", "Lyon"): (1, 100),
        ("Lyon", "Nantes"): (0, 0),
        ("Nantes", "Identified"): (1, 100),
        ("Nantes", "Lyon"): (0, 0),
        ("Nantes", "Nantes"): (1, 100),
    }
    assert "1 person is in both “Identified” and “Lyon”: 50% of “Identified”." in response.content.decode()


def test_the_overlap_is_one_query(alice, bob, charlie, django_assert_num_queries):
    ids = [
        segment_with("Lyon", in_city("Lyon")).pk,
        segment_with("Identified", rules(condition("identity", "identified"))).pk,
        segment_with("Nantes", in_city("Nantes")).pk,
    ]

    with django_assert_num_queries(1):
        overlap = segment_overlap(ids)

    assert overlap[(ids[1], ids[1])] == 2 and overlap[(ids[0], ids[1])] == overlap[(ids[1], ids[0])] == 1
    assert (ids[0], ids[2]) not in overlap


def test_comparing_needs_two_segments(admin_client, alice):
    lyon = segment_with("Lyon", in_city("Lyon"))

    response = admin_client.post(CHANGELIST, {"action": "compare_overlap", "_selected_action": [lyon.pk]}, follow=True)

    assert messages_of(response) == ["Select at least two segments to compare."]


# ---------------------------------------------------------------------------
# History


def test_the_history_counts_entries_and_exits_per_local_day_in_one_query(alice, bob, django_assert_num_queries):
    segment = segment_with("Lyon", in_city("Lyon"), refresh=False)
    now = timezone.now()
    for days, change, profile in ((0, "entered", alice), (0, "entered", bob), (2, "left", bob), (40, "left", alice)):
        SegmentMembershipChange.objects.create(
            segment=segment, profile=profile, change=change, changed_at=now - datetime.timedelta(days=days)
        )

    with django_assert_num_queries(1):
        history = segment_membership_history(segment=segment, days=30, now=now)

    assert len(history) == 30
    assert (history[-1].entered, history[-1].left) == (2, 0)
    assert (history[-3].entered, history[-3].left) == (0, 1)
    assert sum(day.entered + day.left for day in history) == 3
    assert history[-1].day == timezone.localdate(now)


# ---------------------------------------------------------------------------
# Deleting


def test_a_segment_used_by_another_cannot_be_deleted_from_its_page(admin_client, alice):
    lyon = segment_with("Lyon", in_city("Lyon"))
    segment_with("Lyon buyers", rules(condition("segment", "in_segment", lyon.pk)))

    page = admin_client.get(url("delete", lyon))
    assert "“Lyon” is used in the conditions of: Lyon buyers." in page.content.decode()
    assert "Yes, I’m sure" not in page.content.decode()

    admin_client.post(url("delete", lyon), {"post": "yes"})

    assert Segment.objects.filter(pk=lyon.pk).exists()
    assert not LogEntry.objects.exists()


def test_a_refusal_of_the_service_deletes_nothing_and_shows_its_message(admin_client, alice, monkeypatch):
    lyon = segment_with("Lyon", in_city("Lyon"))
    segment_with("Lyon buyers", rules(condition("segment", "in_segment", lyon.pk)))
    # As if "Lyon buyers" started using Lyon after the confirmation page was shown.
    monkeypatch.setattr("segments.admin.segments_using", lambda segment_ids: {})

    response = admin_client.post(url("delete", lyon), {"post": "yes"}, follow=True)

    assert messages_of(response) == ["“Lyon” is used in the conditions of: Lyon buyers. Change those segments first."]
    assert Segment.objects.filter(pk=lyon.pk).exists()
    assert SegmentMembership.objects.filter(segment=lyon).exists()
    assert not LogEntry.objects.exists()


def test_a_segment_nobody_uses_is_deleted_with_its_schedule(admin_client, alice):
    lyon = segment_with("Lyon", in_city("Lyon"), refresh_every="day")
    task_id = lyon.refresh_task_id

    page = admin_client.get(url("delete", lyon)).content.decode()
    assert "People currently in the segment: 1" in page

    admin_client.post(url("delete", lyon), {"post": "yes"})

    assert not Segment.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


def test_bulk_delete_refuses_a_segment_used_by_one_left_out_and_deletes_both_together(admin_client, alice):
    lyon = segment_with("Lyon", in_city("Lyon"))
    buyers = segment_with("Lyon buyers", rules(condition("segment", "in_segment", lyon.pk)))

    page = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [lyon.pk], "post": "yes"})
    assert "“Lyon” is used in the conditions of: Lyon buyers." in page.content.decode()
    assert Segment.objects.count() == 2

    admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [lyon.pk, buyers.pk], "post": "yes"}
    )
    assert not Segment.objects.exists()


# ---------------------------------------------------------------------------
# Segments needing attention


def test_the_admin_home_lists_a_failing_segment_with_its_error(admin_client, alice):
    failing = segment_with("Lyon", in_city("Lyon"))
    SegmentRefresh.objects.create(
        segment=failing,
        trigger=RefreshTrigger.SCHEDULE,
        status=RefreshStatus.FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error="The segment #12 used in a condition does not exist any more.",
    )
    segment_with("Fine", in_city("Nantes"))

    response = admin_client.get(reverse("admin:index"))

    content = response.content.decode()
    assert "Segments needing attention" in content
    assert "The latest refresh failed" in content
    assert "The segment #12 used in a condition does not exist any more." in content
    assert url("change", failing) in content
    assert "Fine" not in content.split('id="segments-attention"')[1].split("</div>")[0]
    assert 'class="app-segments' in content  # the app list is still there


def test_segments_needing_attention(db):
    now = timezone.now()

    def aged(name: str, created_days: float, every: str = "day") -> Segment:
        segment = segment_with(name, in_city("Lyon"), refresh=False, refresh_every=every)
        Segment.objects.filter(pk=segment.pk).update(created_at=now - datetime.timedelta(days=created_days))
        return segment

    def refreshed(segment: Segment, status: str, *, hours_ago: float, started: bool = True, **fields) -> None:
        refresh = SegmentRefresh.objects.create(segment=segment, trigger=RefreshTrigger.SCHEDULE, status=status)
        at = now - datetime.timedelta(hours=hours_ago)
        SegmentRefresh.objects.filter(pk=refresh.pk).update(
            requested_at=at,
            started_at=at if started else None,
            finished_at=at if status != RefreshStatus.RUNNING else None,
            **fields,
        )

    refreshed(aged("Failed", 5), RefreshStatus.FAILED, hours_ago=1, error="boom")
    refreshed(aged("Stuck running", 5), RefreshStatus.RUNNING, hours_ago=0.5)
    refreshed(aged("Stuck in the queue", 5), RefreshStatus.RUNNING, hours_ago=0.5, started=False)
    refreshed(aged("Running", 5), RefreshStatus.RUNNING, hours_ago=0.1)
    refreshed(aged("Stale", 10), RefreshStatus.SUCCEEDED, hours_ago=49)
    refreshed(aged("Fresh", 10), RefreshStatus.SUCCEEDED, hours_ago=47)
    refreshed(aged("Hourly, stale", 10, every="hour"), RefreshStatus.SUCCEEDED, hours_ago=3)
    aged("Never refreshed", 3)
    aged("Never refreshed but new", 1)
    aged("Only when asked", 300, every="never")

    found = {item.segment.name: (item.reason, item.error) for item in segments_needing_attention(now=now)}

    assert found == {
        "Failed": ("failed", "boom"),
        "Stuck running": ("stuck", ""),
        "Stuck in the queue": ("stuck", ""),
        "Stale": ("stale", ""),
        "Hourly, stale": ("stale", ""),
        "Never refreshed": ("stale", ""),
    }


# ---------------------------------------------------------------------------
# The list


def test_the_list_shows_figures_schedule_and_a_failed_refresh_with_its_error(admin_client, alice, bob):
    segment_with("Identified", rules(condition("identity", "identified")), holdout_percent=50)
    broken = segment_with("Lyon", in_city("Lyon"))
    SegmentRefresh.objects.create(
        segment=broken, trigger=RefreshTrigger.MANUAL, status=RefreshStatus.FAILED, error="Out of memory"
    )

    response = admin_client.get(CHANGELIST)

    content = response.content.decode()
    assert "<h1>Segments</h1>" in content
    assert "Only when I ask" in content
    assert 'class="cdp-failed"' in content and "Out of memory" in content
    row = {segment.name: segment for segment in response.context["cl"].result_list}
    assert row["Identified"].member_count == 2
    assert row["Lyon"].refresh_status == "failed"


def test_an_empty_list_says_what_to_do_next(admin_client):
    content = admin_client.get(CHANGELIST).content.decode()

    assert "No segment yet: create one from conditions or upload a list." in content
    assert ADD in content


def test_the_list_s_number_of_queries_does_not_grow_with_the_number_of_segments(
    admin_client, alice, django_assert_num_queries
):
    segment_with("Segment 0", in_city("Lyon"))
    admin_client.get(CHANGELIST)  # the session and the user, loaded once
    with django_assert_num_queries(5) as one:
        admin_client.get(CHANGELIST)

    for number in range(1, 8):
        segment = segment_with(f"Segment {number}", in_city("Lyon"))
        SegmentRefresh.objects.create(segment=segment, trigger=RefreshTrigger.MANUAL)
    with django_assert_num_queries(len(one.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 8


def test_the_page_of_a_segment_reading_events_names_them_in_the_admin_s_language(admin_client):
    viewers = segment_with("Shoe viewers", rules(condition("event", "did", event_type="product_view")), refresh=False)

    response = admin_client.get(url("change", viewers), HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 200
    assert "Produit vu. Un événement de ces types" in response.content.decode()
