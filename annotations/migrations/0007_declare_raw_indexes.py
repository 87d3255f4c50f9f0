"""Declare the three indexes migration 0006 created in SQL, in Django's state only.

They exist already (0006); until now Django did not know them, so an operation that rebuilds
a table (SQLite's ALTER TABLE emulation copies a table with the indexes Django knows) would
have dropped them silently. No SQL runs here.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("annotations", "0005_import_speed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AddIndex(
                    model_name="item",
                    index=models.Index(fields=["campaign", "id"], name="item_campaign_id"),
                ),
                migrations.AddIndex(
                    model_name="assignment",
                    index=models.Index(condition=models.Q(status="assigned"),
                                       fields=["campaign", "lease_expires_at"],
                                       name="assignment_open_lease"),
                ),
                migrations.AddIndex(
                    model_name="assignment",
                    index=models.Index(fields=["campaign", "rater", "position"],
                                       name="assignment_rater_position"),
                ),
            ],
        ),
    ]
