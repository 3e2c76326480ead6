"""The public help center (/help/): the KB's public articles as server-rendered pages, searched
with the same hybrid search as the agents'. Mounted by resolver/urls.py."""
