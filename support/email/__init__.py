"""The e-mail channel, inbound: one receive path (`receive.py:receive_email`) for every door (the
API's POST /inbound/email, IMAP polling, ESP webhooks), and what it is made of: reading an e-mail
as mail clients write it (`parse.py`, `charsets.py`, `html.py`, `reply.py`), telling noise from a
customer (`loops.py`, `flood.py`, `bounces.py`), finding its conversation (`threading.py`),
keeping its files (`attachments.py`) and our own addresses (`addresses.py`). The IMAP door
(`imap.py`, `oauth2.py`) and the ESP webhooks (`esp.py`, `urls.py`) hand raw bytes to it."""
