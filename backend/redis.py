"""The one Redis client of a process, and small Redis-backed counters shared by every process."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.settings import get_settings

_client: Redis | None = None


def redis_client() -> Redis:
    """A process-wide client (a connection pool); created lazily so imports stay cheap."""
    global _client
    if _client is None:
        _client = Redis.from_url(get_settings().redis_url, decode_responses=True)
    return _client


async def close_redis() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None


# INCR then set the window on the first hit; atomic, and works on Redis 6 (no EXPIRE NX there).
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


async def hit(key: str, window_seconds: int) -> tuple[int, int]:
    """Count one event in a fixed window; return (count so far, seconds until the window ends)."""
    count, ttl = await redis_client().eval(_HIT_LUA, 1, key, window_seconds)
    return int(count), max(int(ttl), 1)
