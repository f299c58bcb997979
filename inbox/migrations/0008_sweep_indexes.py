"""Indexes for the every-minute sweeps, so that their cost follows what is due: reminders
pending (neither fired nor cancelled) by due time, whatever lies in the future or was
cancelled; and waiting conversations not yet escalated, however many were escalated
long ago and still wait."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("follow_up", ("fired_at", "cancelled_at", "due_at"), False),
        migrator.add_index("conversation", ("state", "escalated_at", "waiting_since"), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("follow_up", "follow_up_fired_at_cancelled_at_due_at"),
        migrator.drop_index("conversation", "conversation_state_escalated_at_waiting_since"),
    )
