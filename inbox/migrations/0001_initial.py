"""Initial schema: users, channels, contacts, identities, conversations, messages, templates, follow-ups, audit."""
from peewee import *


def up(migrator, db):
    class User(Model):
        email = CharField(unique=True)
        name = CharField()
        role = CharField(default='agent')
        active = BooleanField(default=True)
        password_hash = CharField()
        totp_secret = CharField(null=True)
        locale = CharField(default='ko')
        timezone = CharField(default='Asia/Seoul')
        session_version = IntegerField(default=1)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class Contact(Model):
        name = CharField(default='')
        company = CharField(default='')
        lead_status = CharField(index=True, default='new')
        owner = ForeignKeyField(User, null=True, on_delete='SET NULL')
        source = CharField(default='')
        campaign = CharField(default='')
        ad_set = CharField(default='')
        creative = CharField(default='')
        utm = TextField(default="{}")
        timezone = CharField(null=True)
        next_action = CharField(default='')
        next_action_at = DateTimeField(null=True)
        notes = TextField(default='')
        whatsapp_opt_in_at = DateTimeField(null=True)
        sms_opted_out_at = DateTimeField(null=True)
        whatsapp_opted_out_at = DateTimeField(null=True)
        email_unsubscribed_at = DateTimeField(null=True)
        merged_into = ForeignKeyField('self', null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'contact'
    db.create_tables([Contact])

    class Conversation(Model):
        contact = ForeignKeyField(Contact, unique=True, on_delete='CASCADE')
        state = CharField(default='open')
        snoozed_until = DateTimeField(null=True)
        assignee = ForeignKeyField(User, null=True, on_delete='SET NULL')
        last_activity_at = DateTimeField()
        opened_at = DateTimeField()
        waiting_since = DateTimeField(null=True)
        last_inbound_at = DateTimeField(null=True)
        last_outbound_at = DateTimeField(null=True)
        first_response_at = DateTimeField(null=True)
        last_inbound_channel = CharField(null=True)
        channels = CharField(default='')
        preview = CharField(default='')
        preview_direction = CharField(default='')
        woke_at = DateTimeField(null=True)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'conversation'
            indexes = ((('state', 'assignee', 'last_activity_at'), False), (('state', 'last_activity_at'), False), (('state', 'waiting_since'), False), (('state', 'snoozed_until'), False), (('updated_at',), False))
    db.create_tables([Conversation])

    class Channel(Model):
        kind = CharField()
        name = CharField()
        enabled = BooleanField(default=True)
        settings = TextField(default="{}")
        cursor = TextField(default="{}")
        last_poll_at = DateTimeField(null=True)
        last_error = TextField(null=True)
        error_count = IntegerField(default=0)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'channel'
    db.create_tables([Channel])

    class Message(Model):
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        channel = ForeignKeyField(Channel, null=True, on_delete='SET NULL')
        channel_kind = CharField(null=True)
        direction = CharField()
        automatic = BooleanField(default=False)
        auto_reply = BooleanField(default=False)
        provider_id = CharField(null=True)
        author = ForeignKeyField(User, null=True, on_delete='SET NULL')
        address = CharField(default='')
        subject = CharField(default='')
        text = TextField(default='')
        html = TextField(null=True)
        status = CharField(default='received')
        error = TextField(null=True)
        sent_at = DateTimeField()
        created_at = DateTimeField()
        updated_at = DateTimeField()
        response_seconds = IntegerField(null=True)
        first_response = BooleanField(default=False)
        meta = TextField(default="{}")
        parse_error = TextField(null=True)
        class Meta:
            database = db
            table_name = 'message'
            indexes = ((('conversation', 'sent_at'), False), (('conversation', 'updated_at'), False), (('channel', 'provider_id'), True), (('status', 'created_at'), False))
    db.create_tables([Message])

    class Attachment(Model):
        message = ForeignKeyField(Message, on_delete='CASCADE')
        filename = CharField(default='attachment')
        content_type = CharField(default='application/octet-stream')
        size = IntegerField(default=0)
        content_id = CharField(null=True)
        data = BlobField(null=True)
        note = CharField(null=True)
        class Meta:
            database = db
            table_name = 'attachment'
    db.create_tables([Attachment])

    class AuditEvent(Model):
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        action = CharField()
        object_type = CharField()
        object_id = IntegerField()
        conversation = ForeignKeyField(Conversation, null=True, on_delete='CASCADE')
        before = TextField(null=True)
        after = TextField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'audit_event'
            indexes = ((('conversation', 'created_at'), False), (('object_type', 'object_id'), False))
    db.create_tables([AuditEvent])

    class ContactTag(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        tag = CharField(index=True)
        class Meta:
            database = db
            table_name = 'contact_tag'
            indexes = ((('contact', 'tag'), True),)
    db.create_tables([ContactTag])

    class FollowUp(Model):
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        owner = ForeignKeyField(User, null=True, on_delete='SET NULL')
        kind = CharField(default='manual')
        due_at = DateTimeField(index=True)
        note = CharField(default='')
        done_at = DateTimeField(null=True)
        cancelled_at = DateTimeField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'follow_up'
    db.create_tables([FollowUp])

    class Identity(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        kind = CharField()
        value = CharField()
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'identity'
            indexes = ((('kind', 'value'), True),)
    db.create_tables([Identity])

    class LoginAttempt(Model):
        key = CharField(index=True)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'login_attempt'
    db.create_tables([LoginAttempt])

    class MessageSource(Model):
        message = ForeignKeyField(Message, primary_key=True, on_delete='CASCADE')
        raw = BlobField()
        class Meta:
            database = db
            table_name = 'message_source'
    db.create_tables([MessageSource])

    class Template(Model):
        name = CharField()
        shortcut = CharField(unique=True)
        body = TextField()
        channels = CharField(default='')
        content_sid = CharField(null=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'template'
    db.create_tables([Template])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('template'))
    migrator.migrate(migrator.drop_table('message_source'))
    migrator.migrate(migrator.drop_table('login_attempt'))
    migrator.migrate(migrator.drop_table('identity'))
    migrator.migrate(migrator.drop_table('follow_up'))
    migrator.migrate(migrator.drop_table('contact_tag'))
    migrator.migrate(migrator.drop_table('audit_event'))
    migrator.migrate(migrator.drop_table('attachment'))
    migrator.migrate(migrator.drop_table('message'))
    migrator.migrate(migrator.drop_table('channel'))
    migrator.migrate(migrator.drop_table('conversation'))
    migrator.migrate(migrator.drop_table('contact'))
    migrator.migrate(migrator.drop_table('user'))
