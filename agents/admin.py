"""The agent app has no models; its bookkeeping is in resolver/admin.py."""
