"""Scores: what a marketer defines (ScoreDefinition), the models trained for it (ModelVersion), each person's score.

A definition is one kind of score (RFM, engagement, a propensity or risk model,
the best send hour, a lookalike audience) with its parameters and its schedule.
Each computation writes one ModelVersion: for trained models, with its holdout
AUC, the baseline's AUC and its calibration, and whether it was promoted; for
the scores that are rules (RFM, engagement, best hour), with the thresholds it
used. ProfileScore holds each person's current score and the version that made
it; it is replaced as a whole by every computation.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from profiles.models import Profile


class ScoreKind(models.TextChoices):
    RFM = "rfm", _("RFM (recency, frequency, monetary)")
    ENGAGEMENT = "engagement", _("Email engagement (opens and clicks, recent ones count more)")
    PROPENSITY_PURCHASE = "propensity_purchase", _("Propensity to buy in the next days")
    CHURN_RISK = "churn_risk", _("Attrition risk (no activity in the next days)")
    COMPLAINT_RISK = "complaint_risk", _("Unsubscribe or complaint risk")
    BEST_SEND_HOUR = "best_send_hour", _("Best send hour")
    LOOKALIKE = "lookalike", _("Lookalike of a segment")


# The kinds whose score comes from a model trained on past behaviour.
TRAINED_KINDS = (
    ScoreKind.PROPENSITY_PURCHASE,
    ScoreKind.CHURN_RISK,
    ScoreKind.COMPLAINT_RISK,
    ScoreKind.LOOKALIKE,
)
# The kinds a deployment computes for everybody (the lookalike needs a seed segment).
BUILT_IN_KINDS = tuple(kind for kind in ScoreKind.values if kind != ScoreKind.LOOKALIKE)


class ComputeEvery(models.TextChoices):
    NEVER = "never", _("Only when I ask")
    HOUR = "hour", _("Every hour")
    DAY = "day", _("Every day (at 4:00)")
    WEEK = "week", _("Every week (Monday at 4:00)")


class ComputeStatus(models.TextChoices):
    NEVER = "never", _("Not computed yet")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Computing")
    SUCCEEDED = "succeeded", _("Computed")
    NOT_PROMOTED = "not_promoted", _("Computed, model not promoted: the previous scores are kept")
    FAILED = "failed", _("Failed")


class ScoreDefinition(models.Model):
    name = models.CharField(
        _("name"),
        max_length=200,
        unique=True,
        help_text=_("How segments and reports call this score, for example “Likely to buy this month”."),
    )
    kind = models.CharField(
        _("kind"),
        max_length=32,
        choices=ScoreKind.choices,
        help_text=_("What the score measures; under “Parameters”, the page says what each kind takes."),
    )
    description = models.TextField(
        _("description"), blank=True, help_text=_("A note for your team: what the score is for. Shown nowhere else.")
    )
    parameters = models.JSONField(
        _("parameters"),
        default=dict,
        blank=True,
        help_text=_("Left empty, the usual values of the kind are used; the page lists what each kind takes."),
    )
    compute_every = models.CharField(
        _("compute"),
        max_length=16,
        choices=ComputeEvery.choices,
        default=ComputeEvery.DAY,
        help_text=_("How often everybody's score is computed again, so that segments using it stay up to date."),
    )
    compute_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    # The static segment a lookalike fills (a plain id: scores do not depend on segments).
    output_segment_id = models.PositiveIntegerField(_("audience segment"), null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=ComputeStatus.choices, default=ComputeStatus.NEVER, editable=False
    )
    status_detail = models.TextField(_("detail"), blank=True, editable=False)
    computed_at = models.DateTimeField(_("last computed"), null=True, blank=True, editable=False)
    seconds = models.FloatField(_("duration (s)"), null=True, blank=True, editable=False)
    profiles_scored = models.PositiveIntegerField(_("profiles scored"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One computation of a score: the fitted model (or the thresholds of a rule) and how well it did."""

    definition = models.ForeignKey(
        ScoreDefinition, on_delete=models.CASCADE, related_name="versions", verbose_name=_("score")
    )
    number = models.PositiveIntegerField(_("version"))
    trained_at = models.DateTimeField(_("computed at"))
    data_until = models.DateTimeField(_("data until"), help_text=_("Events up to this moment were read."))
    seed = models.BigIntegerField(_("seed"), default=0)
    features = models.JSONField(_("features"), default=list, blank=True)
    # A logistic regression is fully described by its scaling and coefficients: kept to score again later.
    model = models.JSONField(_("model"), default=dict, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    training_rows = models.PositiveIntegerField(_("training rows"), default=0)
    holdout_rows = models.PositiveIntegerField(_("holdout rows"), default=0)
    positive_rate = models.FloatField(_("positive rate"), null=True, blank=True)
    holdout_auc = models.FloatField(_("holdout AUC"), null=True, blank=True)
    baseline_auc = models.FloatField(_("baseline AUC"), null=True, blank=True)
    baseline = models.CharField(_("baseline"), max_length=200, blank=True)
    calibration = models.JSONField(
        _("calibration"),
        default=list,
        blank=True,
        help_text=_("Holdout profiles in bins of predicted probability: predicted and observed rates."),
    )
    promoted = models.BooleanField(_("promoted"), default=False)
    promotion_note = models.CharField(_("why"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-trained_at", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "number"], name="score_model_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.definition} v{self.number}"


class ProfileScore(models.Model):
    """A person's current score for one definition, with the version that computed it.

    A derived table, rewritten whole by each computation (millions of rows):
    its foreign keys have no database constraint, because PostgreSQL would
    check each of them for each row at commit (three million checks for the
    built-in scores of a million people, most of the computation's time).
    Deletes still cascade through the ORM; a profile erased while a
    computation runs may leave a row that no query reaches (they all start
    from profiles) until the next computation replaces them.
    """

    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="scores",
        verbose_name=_("profile"),
        db_index=False,
        db_constraint=False,
    )
    definition = models.ForeignKey(
        ScoreDefinition,
        on_delete=models.CASCADE,
        related_name="profile_scores",
        verbose_name=_("score"),
        db_index=False,
        db_constraint=False,
    )
    value = models.FloatField(_("value"))
    # A code (an RFM cell, where a best hour comes from), translated when shown.
    label = models.CharField(_("label"), max_length=32, blank=True)
    top_share = models.FloatField(
        _("top %"),
        help_text=_("Share of the scored people whose score is this one or better, in percent: 5 is the top 5 %."),
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("model version"),
        db_index=False,
        db_constraint=False,
    )
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("profile score")
        verbose_name_plural = _("profile scores")
        constraints = [
            models.UniqueConstraint(fields=["profile", "definition"], name="profile_score_unique_profile_definition")
        ]
        indexes = [models.Index(fields=["definition", "value"])]

    def __str__(self) -> str:
        return f"{self.definition_id}: {self.value:g}"
