import pytest
from django.core.management import call_command

from profiles.demo import demo_data_generate
from segments.models import RefreshStatus, Segment

pytestmark = pytest.mark.django_db


def test_the_example_segments_are_valid_and_refreshed_on_the_demo_data(capsys):
    demo_data_generate(profiles=80, seed=3)

    call_command("create_demo_segments", "--if-empty")
    call_command("create_demo_segments", "--if-empty")

    segments = Segment.objects.all()
    assert segments.count() == 4
    for segment in segments:
        refresh = segment.refreshes.get()
        assert refresh.status == RefreshStatus.SUCCEEDED, refresh.error
        assert segment.refresh_task is not None
    assert Segment.objects.filter(member_count__gt=0).count() >= 3
    assert "Segments exist already" in capsys.readouterr().out
