"""Approved WhatsApp templates: the numbered variables of a Twilio Content template."""

from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("template", "content_variables", TextField(default="{}")))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("template", "content_variables"))
