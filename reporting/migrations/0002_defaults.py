from django.db import migrations

REFRESH = "Refresh the reporting figures"


def defaults_create(apps, schema_editor):
    apps.get_model("reporting", "ConversionType").objects.get_or_create(
        event_type="purchase", defaults={"name": "Purchase", "is_active": True}
    )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15_minutes, _created = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=REFRESH,
        defaults={
            "task": "reporting.tasks.reporting_refresh_task",
            "interval": every_15_minutes,
            "description": "Rebuilds the figures of the reporting dashboard (ROI, attribution, uplift).",
        },
    )


def defaults_delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=REFRESH).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(defaults_create, defaults_delete)]
