"""Ad audiences kept in step with campaign runs: who is added, who is already there, who is removed.

A destination of type "Ad audience" mirrors the recipients of its campaign's
latest full run. ``AudienceMember`` remembers, per person, every hash sent and
whether the platform has them:

1. Planning, in the plan's transaction, after the consent gate and the pressure
   cap (``audience_run_sync``): a pending delivery of someone already in the
   audience with the same identifiers is delivered without a call ("Already in
   the audience"). In a full run (started by hand or by the schedule; a
   triggered run holds only the people who triggered it), the people in the
   audience who are not among the run's recipients (left the segment, lost
   consent, held out, over the pressure cap, profile deleted) are put in
   ``AudienceRemoval`` batches, written with the plan: nothing is sent before
   it is recorded, and each batch keeps its people and its idempotency id.
2. Sending a batch (``audience_members_add``, called by the connector inside
   the batch's transaction): the people are recorded as being added, with the
   union of every hash ever sent for them, before the call; in the audience
   after a 2xx. Only deliveries that passed the consent gate reach it.
3. Removals are sent by ``audience_removal_send``, retried on the deliveries'
   schedule, swept by ``audience_removals_due``; one given up on is planned
   again by the next full run. A person added again meanwhile is left out of
   the removal (their row is locked while either request is made).
4. A consent withdrawal removes every hash ever sent for the person at once
   (``audience_member_withdraw``, through the destination's withdrawal notice).
"""

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from activations.connectors import Batch, BatchOutcome, ConnectorError, connector_for
from activations.connectors.ad_audience import AdAudienceConnector, Hashes, hashes_empty, hashes_union
from activations.models import (
    AudienceMember,
    AudienceMemberState,
    AudienceRemoval,
    BatchStatus,
    CampaignRun,
    ConnectorKind,
    Delivery,
    DeliveryStatus,
    Destination,
    RunTrigger,
)
from profiles.models import Identifier

# Runs that hold the whole audience: only they say who is no longer in it.
FULL_RUNS = (RunTrigger.MANUAL, RunTrigger.SCHEDULE)
# People who are, or may be, in the platform's audience.
PRESENT = (AudienceMemberState.ADDING, AudienceMemberState.IN_AUDIENCE)


MEMBER_ADDING_FIELDS = [
    "state",
    "hashes",
    "identifier_count",
    "identifier_last_id",
    "added_by",
    "removal",
    "removed_at",
]


def _connector(destination: Destination) -> AdAudienceConnector:
    connector = connector_for(destination)
    assert isinstance(connector, AdAudienceConnector)
    return connector


# ---------------------------------------------------------------------------
# Planning


def _sent_through(*, destination: Destination, run: CampaignRun) -> Q:
    """The deliveries of the run that go to this destination: its A/B test arm's, or the campaign's own."""
    through = Q(arm__destination=destination)
    if run.campaign.destination_id == destination.pk:
        through |= Q(arm__isnull=True) | Q(arm__destination__isnull=True)
    return through


@transaction.atomic
def audience_run_sync(*, run: CampaignRun, now: datetime.datetime | None = None) -> list[int]:
    """The diff of a planned run against its ad audiences; returns the ids of the removals to send.

    Call it in ``campaign_run_plan``'s transaction once the consent gate and the
    pressure cap are applied. Does nothing for campaigns without an ad audience.
    """
    campaign = run.campaign
    destinations = {campaign.destination, *(arm.destination for arm in campaign.arms.select_related("destination"))}
    removal_ids = []
    for destination in sorted(filter(None, destinations), key=lambda destination: destination.pk):
        if destination.kind == ConnectorKind.AD_AUDIENCE:
            removal_ids += _audience_diff(run=run, destination=destination, now=now or timezone.now())
    return removal_ids


def _audience_diff(*, run: CampaignRun, destination: Destination, now: datetime.datetime) -> list[int]:
    connector = _connector(destination)
    deliveries = Delivery.objects.filter(run=run).filter(_sent_through(destination=destination, run=run))
    identifiers = (
        Identifier.objects.filter(profile=OuterRef("profile_id"), kind__in=connector.identifier_kinds)
        .order_by()
        .values("profile")
    )
    up_to_date = AudienceMember.objects.filter(
        destination=destination,
        profile=OuterRef("profile"),
        state=AudienceMemberState.IN_AUDIENCE,
        identifier_count=Subquery(identifiers.annotate(count=Count("pk")).values("count")),
        identifier_last_id=Subquery(identifiers.annotate(last=Max("pk")).values("last")),
    )
    deliveries.filter(status=DeliveryStatus.PENDING).filter(Exists(up_to_date)).update(
        status=DeliveryStatus.DELIVERED, sent_at=now, error=_("Already in the audience: nothing to send.")
    )
    if run.trigger not in FULL_RUNS:
        return []
    recipients = deliveries.filter(
        profile=OuterRef("profile"),
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED],
    )
    leaving = (
        AudienceMember.objects.filter(destination=destination)
        .filter(
            Q(state__in=PRESENT)
            | Q(state=AudienceMemberState.REMOVING, removal__isnull=True)
            | Q(state=AudienceMemberState.REMOVING, removal__status=BatchStatus.FAILED)
        )
        .exclude(Exists(recipients))
    )
    member_ids = list(leaving.order_by("pk").values_list("pk", flat=True))
    size = connector.batch_size or len(member_ids) or 1
    removal_ids = []
    for start in range(0, len(member_ids), size):
        chunk = member_ids[start : start + size]
        removal = AudienceRemoval.objects.create(destination=destination, run=run, people=len(chunk))
        AudienceMember.objects.filter(pk__in=chunk).update(state=AudienceMemberState.REMOVING, removal=removal)
        removal_ids.append(removal.pk)
    return removal_ids


# ---------------------------------------------------------------------------
# Adding (a batch of the run, through the connector)


def _run_of(batch: Batch) -> CampaignRun | None:
    try:
        return CampaignRun.objects.filter(uuid=uuid.UUID(batch.run)).first()
    except ValueError:
        return None


def _members_adding(
    *, destination: Destination, people: dict[int, tuple[Hashes, int, int]], run: CampaignRun | None
) -> None:
    """Record people as being added, with every hash sent for them so far; tidies the duplicates a merge left."""
    rows: dict[int, list[AudienceMember]] = defaultdict(list)
    members = AudienceMember.objects.select_for_update().filter(destination=destination, profile_id__in=list(people))
    for member in members.order_by("pk"):
        rows[member.profile_id].append(member)
    changed, created, extra = [], [], []
    for profile_id, (hashes, count, last_id) in people.items():
        kept = [member.hashes for member in rows[profile_id] if member.state != AudienceMemberState.REMOVED]
        values = {
            "state": AudienceMemberState.ADDING,
            "hashes": hashes_union(*kept, hashes),
            "identifier_count": count,
            "identifier_last_id": last_id,
            "added_by": run,
            "removal": None,
            "removed_at": None,
        }
        if not rows[profile_id]:
            created.append(AudienceMember(destination=destination, profile_id=profile_id, **values))
            continue
        member, *others = rows[profile_id]
        for name, value in values.items():
            setattr(member, name, value)
        changed.append(member)
        extra.extend(other.pk for other in others)
    AudienceMember.objects.bulk_update(changed, fields=MEMBER_ADDING_FIELDS, batch_size=1000)
    AudienceMember.objects.bulk_create(created, batch_size=1000)
    AudienceMember.objects.filter(pk__in=extra).delete()


def audience_members_add(*, connector: AdAudienceConnector, batch: Batch) -> BatchOutcome:
    """Send a batch's people to the audience (one request), recorded as being added first, as in it after a 2xx.

    Runs inside ``delivery_batch_send``'s transaction, so the members are
    written with the deliveries' outcome. Someone with no email nor phone fails
    with the reason. A test send (no profile) is refused: it would put a staff
    member in a live audience that no run would ever take them out of.
    """
    destination = connector.destination
    profile_ids = [recipient.profile_id for recipient in batch.recipients if recipient.profile_id]
    if not profile_ids:
        return BatchOutcome.all_failed(
            batch, _("An ad audience takes no test message: use “test the connection” on the destination.")
        )
    found: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for profile_id, kind, value, pk in (
        Identifier.objects.filter(profile_id__in=profile_ids, kind__in=connector.identifier_kinds)
        .order_by("profile_id", "pk")
        .values_list("profile_id", "kind", "value", "pk")
    ):
        found[profile_id].append((kind, value, pk))
    try:
        hashes = {
            recipient.delivery_id: connector.hashes_of(
                [(kind, value) for kind, value, _pk in found[recipient.profile_id]]
            )
            for recipient in batch.recipients
        }
    except ConnectorError as error:
        return BatchOutcome.all_failed(batch, str(error))
    outcome = BatchOutcome(
        failed={
            delivery_id: _("No email nor phone number to match in the audience.")
            for delivery_id, person in hashes.items()
            if hashes_empty(person)
        }
    )
    people = {delivery_id: person for delivery_id, person in hashes.items() if delivery_id not in outcome.failed}
    if not people:
        return outcome
    profile_of = {r.delivery_id: r.profile_id for r in batch.recipients if r.delivery_id in people}
    _members_adding(
        destination=destination,
        people={
            profile_of[delivery_id]: (
                people[delivery_id],
                len(found[profile_of[delivery_id]]),
                max(pk for _kind, _value, pk in found[profile_of[delivery_id]]),
            )
            for delivery_id in profile_of
        },
        run=_run_of(batch),
    )
    sent = connector.change("POST", message_id=batch.message_id, people=people)
    added = [profile_of[delivery_id] for delivery_id in sent.delivered if delivery_id in profile_of]
    if added:
        AudienceMember.objects.filter(
            destination=destination, profile_id__in=added, state=AudienceMemberState.ADDING
        ).update(state=AudienceMemberState.IN_AUDIENCE, added_at=timezone.now())
    outcome.delivered, outcome.retry, outcome.retry_after = sent.delivered, sent.retry, sent.retry_after
    outcome.failed.update(sent.failed)
    return outcome


# ---------------------------------------------------------------------------
# Removing


def audience_removal_send(*, removal_id: int, now: datetime.datetime | None = None) -> AudienceRemoval | None:
    """One attempt at a removal, retried on the deliveries' schedule; safe to call twice or concurrently.

    The removal and its people stay locked while the request is made and the
    outcome is written in the same transaction; people added again since it
    was planned are left out.
    """
    from activations.services import attempt_outcome_apply

    now = now or timezone.now()
    with transaction.atomic():
        removal = (
            AudienceRemoval.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("destination")
            .filter(pk=removal_id)
            .first()
        )
        if removal is None or removal.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return removal
        if removal.next_attempt_at and removal.next_attempt_at > now:
            return removal
        members = list(
            AudienceMember.objects.select_for_update()
            .filter(removal=removal, state=AudienceMemberState.REMOVING)
            .order_by("pk")
        )
        removal.attempts += 1
        if members:
            outcome = _connector(removal.destination).change(
                "DELETE", message_id=removal.message_id, people={member.pk: member.hashes for member in members}
            )
        else:
            outcome = BatchOutcome(delivered=[0])
        if outcome.delivered:
            AudienceMember.objects.filter(pk__in=[member.pk for member in members]).update(
                state=AudienceMemberState.REMOVED, removed_at=now
            )
            # A deleted profile's hashes are kept only until the platform has removed them.
            AudienceMember.objects.filter(removal=removal, profile__isnull=True).update(hashes={})
        attempt_outcome_apply(attempt=removal, outcome=outcome, now=now)
        removal.save()
    return removal


def audience_removals_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Removals to (re)send now: retries whose time has come, and pending ones whose message may be lost."""
    from activations.services import attempts_due

    return attempts_due(AudienceRemoval.objects.all(), now=now)


def audience_member_withdraw(*, connector: AdAudienceConnector, message_id: str, profile_uuid: str) -> BatchOutcome:
    """A consent withdrawal: every hash ever sent for the person, and those of their identifiers, removed at once.

    Called by the connector's ``withdrawal_notify`` inside the notice's
    transaction; one pseudo-recipient 0, as withdrawal notices expect.
    """
    members = list(
        AudienceMember.objects.select_for_update()
        .filter(destination=connector.destination, profile__uuid=profile_uuid)
        .exclude(state=AudienceMemberState.REMOVED)
    )
    current = Identifier.objects.filter(profile__uuid=profile_uuid, kind__in=connector.identifier_kinds)
    try:
        hashes = hashes_union(
            *(member.hashes for member in members), connector.hashes_of(current.values_list("kind", "value"))
        )
    except ConnectorError as error:
        return BatchOutcome(failed={0: str(error)})
    if hashes_empty(hashes):
        return BatchOutcome(delivered=[0])
    outcome = connector.change("DELETE", message_id=message_id, people={0: hashes})
    if outcome.delivered:
        AudienceMember.objects.filter(pk__in=[member.pk for member in members]).update(
            state=AudienceMemberState.REMOVED, removed_at=timezone.now(), removal=None
        )
    return outcome


# ---------------------------------------------------------------------------
# What a run did to its audience, for the marketer


@dataclass
class AudienceRunCounts:
    added: int  # sent to the platform by this run
    already_in: int  # delivered without a call
    removed: int
    removing: int  # removals waiting or retrying
    removal_failed: int


def audience_run_counts(*, run: CampaignRun) -> AudienceRunCounts:
    delivered = Delivery.objects.filter(run=run, status=DeliveryStatus.DELIVERED).aggregate(
        added=Count("pk", filter=Q(attempts__gt=0)), already_in=Count("pk", filter=Q(attempts=0))
    )
    removals = AudienceRemoval.objects.filter(run=run).aggregate(
        removed=Sum("people", filter=Q(status=BatchStatus.DONE)),
        removing=Sum("people", filter=Q(status__in=[BatchStatus.PENDING, BatchStatus.RETRYING])),
        failed=Sum("people", filter=Q(status=BatchStatus.FAILED)),
    )
    return AudienceRunCounts(
        added=delivered["added"],
        already_in=delivered["already_in"],
        removed=removals["removed"] or 0,
        removing=removals["removing"] or 0,
        removal_failed=removals["failed"] or 0,
    )
