"""SQL functions the planning statements use, registered on SQLite (PostgreSQL has them built in)."""

import hashlib

from django.db.backends.signals import connection_created
from django.dispatch import receiver


def _md5(text: str) -> str:
    return hashlib.md5(str(text).encode(), usedforsecurity=False).hexdigest()


@receiver(connection_created)
def _sqlite_functions_register(sender, connection, **kwargs) -> None:  # noqa: ANN001, ANN003
    if connection.vendor == "sqlite":
        connection.connection.create_function("cdp_md5", 1, _md5, deterministic=True)
