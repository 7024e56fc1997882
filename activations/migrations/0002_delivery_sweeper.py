from django.db import migrations

SWEEPER = "Send due delivery retries"


def sweeper_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _created = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SWEEPER,
        defaults={
            "task": "activations.tasks.delivery_batches_due_task",
            "interval": every_minute,
            "description": "Queues the campaign batches whose retry is due, and those whose message was lost.",
        },
    )


def sweeper_delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEPER).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sweeper_create, sweeper_delete)]
