"""Index for the inbox live updates: conversations of a folder changed since a moment."""


def up(migrator, db):
    migrator.migrate(migrator.add_index("conversation", ("state", "updated_at"), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("conversation", "conversation_state_updated_at"))
