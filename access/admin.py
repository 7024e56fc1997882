"""Groups in the admin: the roles are shown with what they are for, and cannot be changed by hand.

``migrate`` would put a role's permissions back anyway (``access.services.roles_sync``):
a role is changed in ``access.roles``. Other groups are edited as usual.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from access.roles import ROLES_BY_NAME

admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    list_display = ["name", "role"]
    readonly_fields = ["role"]

    @admin.display(description=_("what the role may do"))
    def role(self, group: Group) -> str:
        role = ROLES_BY_NAME.get(group.name)
        if role is None:
            return gettext("A group made by hand: it has the permissions chosen below.")
        return gettext("%(description)s Kept in step by the platform at each update: it cannot be changed here.") % {
            "description": role.description
        }

    def get_fields(self, request: HttpRequest, obj: Group | None = None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        return fields if obj is None else ["name", "role", *[name for name in fields if name not in ("name", "role")]]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.name in ROLES_BY_NAME:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.name in ROLES_BY_NAME:
            return False
        return super().has_delete_permission(request, obj)
