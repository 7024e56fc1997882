"""Deterministic control groups: a profile's bucket is a hash of (salt, profile id).

The same function runs in Python and in SQL (PostgreSQL's md5, a registered
function on SQLite), so that a refresh assigns buckets in one statement and a
test can check both agree. A holdout of 10 % puts buckets 0–999 of 10,000 in
the control group: the same person lands in the same group on every refresh,
and after leaving and re-entering the segment.
"""

import hashlib
from decimal import Decimal

from django.db.backends.signals import connection_created
from django.dispatch import receiver

BUCKETS = 10_000


def control_bucket(salt: str, profile_id: int) -> int:
    digest = hashlib.md5(f"{salt}:{profile_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def control_threshold(holdout_percent: Decimal) -> int:
    """Buckets below this number are in the control group."""
    return int(Decimal(holdout_percent) * BUCKETS / 100)


def control_bucket_sql(vendor: str, column: str) -> str:
    """SQL for the bucket of ``column`` (a profile id); the salt is the one parameter it takes."""
    if vendor == "postgresql":
        return f"(('x' || substr(md5(%s || ':' || {column}::text), 1, 8))::bit(32)::bigint %% {BUCKETS})"
    return f"cdp_control_bucket(%s, {column})"


@receiver(connection_created)
def _sqlite_functions_register(sender, connection, **kwargs) -> None:  # noqa: ANN001, ANN003
    if connection.vendor == "sqlite":
        connection.connection.create_function("cdp_control_bucket", 2, control_bucket, deterministic=True)
