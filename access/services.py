"""Writes of the access app: the role groups and the logins of a development instance."""

import secrets
from pathlib import Path

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.translation import gettext

from access.roles import ROLES


def roles_sync(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS) -> set[str]:
    """Give each role's group exactly the permissions of its definition; return those not found.

    Idempotent: the group is created if missing, and a permission it holds that
    the definition no longer names is taken away. ``apps`` is the migration
    state when called after ``migrate``.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    # A few hundred rows: read them once rather than one query per named permission.
    existing = list(permission_model.objects.using(using).values_list("pk", "content_type__app_label", "codename"))
    found = {f"{app_label}.{codename}" for _pk, app_label, codename in existing}
    missing: set[str] = set()
    with transaction.atomic(using=using):
        for role in ROLES:
            granted = [
                pk for pk, app_label, codename in existing if role.grants(app_label=app_label, codename=codename)
            ]
            missing |= role.permissions - found
            group, _created = group_model.objects.using(using).get_or_create(name=role.name)
            group.permissions.set(granted)
    return missing


def login_ensure(
    *,
    username: str,
    password_file: Path,
    superuser: bool = False,
    groups: tuple[str, ...] = (),
    **fields: str | bool,
) -> str:
    """A development login, created once with a generated password kept in ``password_file``; return the password.

    A new password is set when the file is gone. The login is put back in
    ``groups`` each time (they must exist: ``migrate`` creates the roles).
    """
    user_model = get_user_model()
    wanted = list(Group.objects.filter(name__in=groups))
    if len(wanted) != len(set(groups)):
        raise ValidationError(gettext("The roles do not exist yet: run “manage.py migrate” first."))
    user: AbstractBaseUser | None = user_model.objects.filter(username=username).first()
    if user is None or not password_file.exists():
        password = secrets.token_urlsafe(12)
        if user is None:
            create = user_model.objects.create_superuser if superuser else user_model.objects.create_user
            user = create(username=username, password=password, **fields)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    if wanted:
        user.groups.add(*wanted)
    return password_file.read_text().strip()
