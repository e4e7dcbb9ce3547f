"""The SMS gateway interface. The embedded default writes the code to the log."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("qungong.sms")


class SmsGateway(Protocol):
    async def send_code(self, phone: str, code: str) -> None: ...


class LogSmsGateway:
    """Development / demo gateway: the code goes to the log (and, in demo mode, to the page)."""

    async def send_code(self, phone: str, code: str) -> None:
        log.info("sms code for %s: %s", phone, code)


def get_gateway() -> SmsGateway:
    # A real provider plugs in here (selected by env); none is configured in the open-source build.
    return LogSmsGateway()
