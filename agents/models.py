"""The agent app has no tables of its own: the event bookkeeping (processed events, dead letters)
is resolver's (resolver/models.py), the drafts are support's."""
