"""The JSON fields managers type into the admin (a system property's value, a rule's states)
decode with BoundedJSONDecoder: JSON nested ~1,000 deep is a form error, not a RecursionError.
No change to the data; on SQLite Django rebuilds the two small tables."""

from django.db import migrations, models

import incidents.models.base


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_legal_reads_cis_not_incidents")]

    operations = [
        migrations.AlterField(
            model_name="autodeclarationrule",
            name="states",
            field=models.JSONField(
                blank=True,
                decoder=incidents.models.base.BoundedJSONDecoder,
                default=list,
                help_text="Incident states it applies to; empty: any open state",
            ),
        ),
        migrations.AlterField(
            model_name="systemproperty",
            name="value",
            field=models.JSONField(decoder=incidents.models.base.BoundedJSONDecoder),
        ),
    ]
