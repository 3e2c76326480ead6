"""When the store last reported an order (a PUT /orders), apart from `updated_at`, which our own
saves move too (the record of a refund the store confirmed): a refund whose outcome is unknown
stays reserved until the store's next report (support/actions/catalogue.py:refunds_in_flight).
Orders already stored count as reported when they were last saved, as the rule read before."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('support', '0043_mask_cards_in_summaries'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='reported_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE support_order SET reported_at = updated_at",
            migrations.RunSQL.noop,
            elidable=True,
        ),
    ]
