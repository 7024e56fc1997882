import threading

import pytest
from django.db import connection

from profiles.models import Identifier, Profile
from profiles.services import profile_resolve


@pytest.mark.django_db(transaction=True)
def test_two_requests_bringing_the_same_new_email_at_once_make_one_profile():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL's concurrent transactions")
    barrier = threading.Barrier(4)
    errors = []

    def resolve(anonymous_id: str) -> None:
        try:
            barrier.wait()
            profile_resolve(identifiers={"email": "race@example.fr", "anonymous_id": anonymous_id}, source="web")
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve, args=(f"cookie-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Identifier.objects.filter(kind="email", value="race@example.fr").count() == 1
    assert Profile.objects.count() == 1
    assert Identifier.objects.filter(kind="anonymous_id").count() == 4
