"""Webhook intake: every accepted provider webhook is kept until what it carries is stored."""

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class Channel(Model):
        class Meta:
            database = db
            table_name = "channel"

    class Intake(Model):
        channel = ForeignKeyField(Channel, null=True, on_delete="SET NULL")
        kind = CharField()
        payload = TextField()
        received_at = DateTimeField()
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        done_at = DateTimeField(null=True)
        failed_at = DateTimeField(null=True)
        last_error = TextField(default="")

        class Meta:
            database = db
            table_name = "intake"
            indexes = ((("done_at", "failed_at", "next_attempt_at"), False),)

    db.create_tables([Intake])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "intake"')
