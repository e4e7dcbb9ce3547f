"""Small helpers to make unique test data (the database is shared by the whole run)."""

from __future__ import annotations

import itertools
import os
import random

_counter = itertools.count(1)
_rng = random.Random(os.getpid())


def fresh_phone() -> str:
    """A unique mainland mobile number for this run."""
    return f"139{_rng.randrange(10**7):07d}{next(_counter) % 10}"


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}_{next(_counter)}"
