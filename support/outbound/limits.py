"""Automatic replies to one address are limited (AUTO_REPLY_LIMIT_PER_HOUR in any 60 minutes):
two auto-responders answering each other, or a sender writing in a loop, stop at the limit, and
a draft past it waits for a human (support/review.py:auto_send)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid

from django.conf import settings

from resolver.redis_client import get_redis
from support.email.addresses import fold_case

logger = logging.getLogger(__name__)

KEY = "resolver:autoreply:"
WINDOW_SECONDS = 3600


def _key(address: str) -> str:
    # Hashed: Redis holds no customer's address.
    return KEY + hashlib.sha256(fold_case(address.strip()).encode()).hexdigest()[:32]


def take_auto_reply(address: str) -> bool:
    """Counts one automatic reply to `address`; False (not counted) when the last hour already
    holds the limit. A sliding window in a sorted set, in one MULTI: of two workers at the limit
    at once, one gets the last place. Redis unreachable: False, so nothing automatic goes out
    unlimited (a human sends it)."""
    now = time.time()
    key, member = _key(address), uuid.uuid4().hex
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.expire(key, WINDOW_SECONDS + 60)
        count = int(pipe.execute()[2])
        if count <= settings.AUTO_REPLY_LIMIT_PER_HOUR:
            return True
        get_redis().zrem(key, member)
    except Exception:
        logger.warning("auto-reply limiter unavailable: the reply waits for a human", exc_info=True)
    return False
