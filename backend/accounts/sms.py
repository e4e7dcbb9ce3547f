"""The SMS gateway interface, and its providers: the log (default), Alibaba Cloud SMS, Tencent Cloud SMS.

Chosen by env (``QG_SMS_PROVIDER=log|aliyun|tencent``). The providers are reached through their documented
signed HTTP APIs with httpx (async; the official SDKs are synchronous and pull in large dependency trees):
Alibaba's RPC signature (HMAC-SHA1) for ``SendSms`` 2017-05-25, Tencent Cloud API v3 (TC3-HMAC-SHA256) for
``SendSms`` 2021-01-11. ``QG_SMS_BASE_URL`` overrides the endpoint (the tests point it at a local server).

A failure is logged and retried once; after that ``SmsError``. Every message to a phone counts against a
daily cap in Redis (``QG_SMS_DAILY_CAP``, default 10: the providers' own default per-number limit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx

from backend.errors import DomainError

log = logging.getLogger("qungong.sms")

# The messages we send, by purpose: a one-time code, and the two notices that matter to a resident.
PURPOSES = ("code", "resolved", "reopened")


class SmsError(DomainError):
    """A message that was not sent (after the retry), or was refused before sending (daily cap)."""

    status = 503

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class SmsGateway(Protocol):
    name: str

    async def send_code(self, phone: str, code: str) -> None: ...

    async def send_notice(self, phone: str, purpose: str, params: dict[str, str]) -> None: ...


class LogSmsGateway:
    """Development / demo gateway: the code goes to the log (and, in demo mode, to the page)."""

    name = "log"

    async def send_code(self, phone: str, code: str) -> None:
        log.info("sms code for %s: %s", phone, code)

    async def send_notice(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        log.info("sms %s for %s: %s", purpose, phone, params)


@dataclass(frozen=True)
class SmsConfig:
    provider: str
    key_id: str = ""
    key_secret: str = ""
    sign_name: str = ""
    templates: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    app_id: str = ""  # Tencent's SmsSdkAppId
    region: str = ""
    daily_cap: int = 10
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> SmsConfig:
        env = os.environ.get
        return cls(
            provider=(env("QG_SMS_PROVIDER") or "log").strip().lower(),
            key_id=env("QG_SMS_KEY_ID", ""),
            key_secret=env("QG_SMS_KEY_SECRET", ""),
            sign_name=env("QG_SMS_SIGN_NAME", ""),
            templates={p: env(f"QG_SMS_TEMPLATE_{p.upper()}", "") for p in PURPOSES},
            base_url=env("QG_SMS_BASE_URL", "").rstrip("/"),
            app_id=env("QG_SMS_APP_ID", ""),
            region=env("QG_SMS_REGION", ""),
            daily_cap=int(env("QG_SMS_DAILY_CAP") or 10),
        )


def pct(value: str) -> str:
    """Alibaba's percent-encoding (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay)."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{pct('/')}&{pct(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def tc3_signature(secret_key: str, host: str, payload: str, timestamp: int, service: str = "sms",
                  content_type: str = "application/json; charset=utf-8") -> tuple[str, str]:
    """Tencent Cloud API v3: returns (credential scope, hex signature) for a POST to ``/``."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(["POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           hashlib.sha256(payload.encode()).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def _h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = _h(_h(_h(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return scope, hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()


class _HttpGateway:
    name = ""
    default_base = ""

    def __init__(self, config: SmsConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.base_url = config.base_url or self.default_base
        self._transport = transport

    async def _send(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        raise NotImplementedError

    async def _deliver(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        if not self.config.templates.get(purpose):
            raise SmsError(f"no template configured for {purpose}", "template")
        await check_daily_cap(phone, self.config.daily_cap)
        last: SmsError | None = None
        for attempt in (1, 2):  # one retry: a provider hiccup should not lose a code
            try:
                await self._send(phone, purpose, params)
                return
            except (httpx.HTTPError, ValueError) as exc:
                last = SmsError(f"{type(exc).__name__}: {exc}", "network")
            except SmsError as exc:
                last = exc
            log.warning("sms %s via %s to %s failed (attempt %d): %s %s", purpose, self.name, phone[-4:], attempt,
                        last.code, last)
        assert last is not None
        raise last

    async def send_code(self, phone: str, code: str) -> None:
        await self._deliver(phone, "code", {"code": code})

    async def send_notice(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        await self._deliver(phone, purpose, params)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout, transport=self._transport)


class AliyunSmsGateway(_HttpGateway):
    name = "aliyun"
    default_base = "https://dysmsapi.aliyuncs.com"

    async def _send(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        c = self.config
        form = {
            "AccessKeyId": c.key_id, "Action": "SendSms", "Format": "JSON", "PhoneNumbers": phone,
            "RegionId": c.region or "cn-hangzhou", "SignName": c.sign_name, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16), "SignatureVersion": "1.0",
            "TemplateCode": c.templates[purpose], "TemplateParam": json.dumps(params, ensure_ascii=False),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
        }
        form["Signature"] = aliyun_signature(form, c.key_secret)
        async with self._client() as client:
            response = await client.post(self.base_url + "/", data=form)
        body = response.json()
        if body.get("Code") != "OK":
            raise SmsError(str(body.get("Message") or response.status_code), str(body.get("Code") or "http"))


class TencentSmsGateway(_HttpGateway):
    name = "tencent"
    default_base = "https://sms.tencentcloudapi.com"

    async def _send(self, phone: str, purpose: str, params: dict[str, str]) -> None:
        c = self.config
        payload = json.dumps({
            "PhoneNumberSet": [f"+86{phone}"], "SmsSdkAppId": c.app_id, "SignName": c.sign_name,
            "TemplateId": c.templates[purpose], "TemplateParamSet": list(params.values()),
        }, ensure_ascii=False)
        host = urlsplit(self.base_url).netloc
        ts = int(time.time())
        scope, signature = tc3_signature(c.key_secret, host, payload, ts)
        headers = {
            "Authorization": f"TC3-HMAC-SHA256 Credential={c.key_id}/{scope}, SignedHeaders=content-type;host, "
                             f"Signature={signature}",
            "Content-Type": "application/json; charset=utf-8", "Host": host, "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(ts), "X-TC-Version": "2021-01-11", "X-TC-Region": c.region or "ap-guangzhou",
        }
        async with self._client() as client:
            response = await client.post(self.base_url + "/", content=payload.encode(), headers=headers)
        body = response.json().get("Response", {})
        if "Error" in body:
            raise SmsError(str(body["Error"].get("Message")), str(body["Error"].get("Code")))
        statuses = body.get("SendStatusSet") or [{}]
        if statuses[0].get("Code") != "Ok":
            raise SmsError(str(statuses[0].get("Message")), str(statuses[0].get("Code") or "unknown"))


async def check_daily_cap(phone: str, cap: int) -> None:
    """Count one message against the phone's cap for today (China time; the providers count per day)."""
    from backend.redis import redis_client

    day = datetime.now(UTC).astimezone().strftime("%Y%m%d")
    key = f"sms:day:{day}:{phone}"
    pipe = redis_client().pipeline()
    pipe.incr(key)
    pipe.expire(key, 2 * 86400)
    count, _ = await pipe.execute()
    if int(count) > cap:
        raise SmsError(f"daily cap of {cap} messages reached", "daily_cap")


GATEWAYS = {"aliyun": AliyunSmsGateway, "tencent": TencentSmsGateway}


def get_gateway(transport: httpx.AsyncBaseTransport | None = None) -> SmsGateway:
    """The configured provider (read from env each time: cheap, and tests may change it)."""
    config = SmsConfig.from_env()
    cls = GATEWAYS.get(config.provider)
    if cls is None:
        return LogSmsGateway()
    return cls(config, transport)
