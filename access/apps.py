from typing import Any

from django.apps import AppConfig
from django.apps.registry import Apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def roles_sync_after_migrate(
    sender: AppConfig, *, using: str, verbosity: int, apps: Apps | None = None, **kwargs: Any
) -> None:
    """Every ``migrate`` brings the role groups back to their definition in ``access.roles``.

    ``flush`` (a transactional test's teardown) sends the signal without ``apps``: the installed apps then.
    """
    from django.apps import apps as installed_apps

    from access.services import roles_sync

    apps = apps or installed_apps

    try:
        apps.get_model("auth", "Permission")
    except LookupError:  # auth is not migrated in this database (yet)
        return
    missing = roles_sync(apps=apps, using=using)
    if missing and verbosity:
        print(f"Roles: permissions not found (their app is not migrated yet?): {', '.join(sorted(missing))}")


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = _("Access and roles")

    def ready(self) -> None:
        # Sent once per app after each migrate; this app comes last in INSTALLED_APPS, so by the time it
        # receives it, every other app's permissions exist.
        post_migrate.connect(roles_sync_after_migrate, sender=self, dispatch_uid="access.roles_sync")
