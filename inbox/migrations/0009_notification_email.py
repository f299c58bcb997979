"""Per-user email notifications and the daily summary hour."""

from peewee import BooleanField, DateField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("user", "notify_by_email", BooleanField(default=False)),
        migrator.add_column("user", "summary_hour", IntegerField(null=True)),
        migrator.add_column("user", "summary_sent_on", DateField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("user", "notify_by_email"),
        migrator.drop_column("user", "summary_hour"),
        migrator.drop_column("user", "summary_sent_on"),
    )
