"""The roles of the platform, as Django groups kept in step with this file on every ``migrate``.

A role is a group whose permissions are written here, not clicked in the admin:
``access.services.roles_sync`` gives each group exactly these permissions (a
permission added by hand is taken away again). Group names are stored, so they
stay in English; what a role is for is translated (``description``).

This module reads every app's permissions, so it sits above them all:
``profiles <- segments <- activations <- reporting <- partners <- access``.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EVERY_ACTION = ("view", "add", "change", "delete")

# What a marketer works with, model by model ("app_label.model": actions). Each action is a
# permission codename "<action>_<model>"; "merge" is a custom permission of the profile.
MARKETER_ACTIONS: dict[str, tuple[str, ...]] = {
    # Profiles: look people up, correct them, record consents, import CRM files (which adds and
    # changes profiles) and merge duplicates. Not "delete" nor "erase": erasure is an administrator's.
    "profiles.profile": ("view", "add", "change", "merge"),
    "profiles.identifier": ("view", "add"),
    "profiles.consentrecord": ("view", "add"),
    "profiles.consentstate": ("view",),
    "profiles.event": ("view",),
    "profiles.mergelog": ("view",),
    "profiles.privacylog": ("view",),
    "profiles.profileimport": ("view",),
    "profiles.importrejection": ("view",),
    # Scores: read them and compute them ("Compute now" needs change); deleting one is an administrator's.
    "scores.scoredefinition": ("view", "add", "change"),
    "scores.modelversion": ("view",),
    "scores.profilescore": ("view",),
    # Segments: everything a marketer does with them; memberships and refreshes are written by the platform.
    "segments.segment": EVERY_ACTION,
    "segments.segmentlistentry": EVERY_ACTION,
    "segments.segmentmembership": ("view",),
    "segments.segmentmembershipchange": ("view",),
    "segments.segmentrefresh": ("view",),
    # Campaigns: create, change, send ("Send now" needs change), pause. Not delete: deleting a campaign
    # deletes its runs, deliveries and results, the record of who was sent what.
    "activations.campaign": ("view", "add", "change"),
    "activations.campaignarm": EVERY_ACTION,
    # Runs: follow them, retry their failed deliveries (change).
    "activations.campaignrun": ("view", "change"),
    "activations.audienceremoval": ("view",),
    "activations.delivery": ("view",),
    "activations.withdrawalnotice": ("view",),
    "activations.pressurecap": EVERY_ACTION,
    # Destinations: picked for a campaign, not configured. A destination holds the credentials of a
    # channel (API tokens, SFTP keys, SMTP passwords) and decides where personal data is sent.
    "activations.destination": ("view",),
    # Reporting: the dashboard, what counts as a conversion and for how long a campaign gets credit.
    "reporting.dashboard": ("view",),
    "reporting.conversiontype": EVERY_ACTION,
    "reporting.campaignattribution": EVERY_ACTION,
}

# Every permission of these apps: the project's own, users and groups, and the scheduled tasks.
ADMINISTRATOR_APPS = ("auth", "django_celery_beat", *settings.LOCAL_APPS)


@dataclass(frozen=True)
class Role:
    name: str
    description: str | Promise
    permissions: frozenset[str] = frozenset()  # "app_label.codename"
    apps: tuple[str, ...] = ()  # every permission of these apps, as well

    def grants(self, *, app_label: str, codename: str) -> bool:
        return app_label in self.apps or f"{app_label}.{codename}" in self.permissions


def permission_names(actions: dict[str, tuple[str, ...]]) -> frozenset[str]:
    names = set()
    for label, model_actions in actions.items():
        app_label, model = label.split(".")
        names.update(f"{app_label}.{action}_{model}" for action in model_actions)
    return frozenset(names)


MARKETER = Role(
    name="Marketer",
    description=_(
        "Works with profiles (look up, correct, record consents, import CRM files, merge duplicates), segments, "
        "campaigns and their runs, pressure caps, scores and reporting. Picks destinations but does not set them "
        "up. No partners or API keys, no users or groups, no erasure of personal data (GDPR)."
    ),
    permissions=permission_names(MARKETER_ACTIONS),
)

ADMINISTRATOR = Role(
    name="Administrator",
    description=_(
        "Everything a marketer does, and also: destinations and their secrets, partners and API keys, users and "
        "groups, erasure of personal data (GDPR), scheduled tasks. Given to staff users without making them "
        "superusers."
    ),
    apps=ADMINISTRATOR_APPS,
)

ROLES = (MARKETER, ADMINISTRATOR)
ROLES_BY_NAME = {role.name: role for role in ROLES}
