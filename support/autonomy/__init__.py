"""Autonomy earned from evidence (#29): per intent, drafts go out without a human only where the
team's own reviews prove it safe (evidence.py), promoted and taken back by ladder.py, applied to
each SUGGESTED draft by support/autosend.py."""
