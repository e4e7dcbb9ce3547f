"""Local HTTP servers speaking the wire formats of the outside services (no network in tests).

Each fake checks what the real service checks (the request signature, the access token) and answers
with the documented JSON shapes and error codes. ``script`` lets a test queue error answers first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from backend.accounts.sms import aliyun_signature, tc3_signature


class FakeServer:
    """A threaded HTTP server; ``handle(method, path, query, headers, body)`` returns (status, json)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Any] = []  # queued answers (status, body) served before the normal behaviour
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _do(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                req = {"method": method, "path": parts.path, "query": query, "headers": dict(self.headers),
                       "body": body}
                outer.requests.append(req)
                status, payload = outer.script.pop(0) if outer.script else outer.handle(req)
                if status == 302:  # a browser redirect (WeChat's authorisation page sending the user back)
                    self.send_response(302)
                    self.send_header("Location", payload)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._do("GET")

            def do_POST(self) -> None:
                self._do("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, req: dict[str, Any]) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeAliyunSms(FakeServer):
    """Alibaba Cloud SMS, RPC style: form POST, HMAC-SHA1 signature over the sorted parameters."""

    def __init__(self, key_id: str, secret: str) -> None:
        super().__init__()
        self.key_id, self.secret = key_id, secret
        self.sent: list[dict[str, str]] = []

    def handle(self, req: dict[str, Any]) -> tuple[int, Any]:
        form = dict(parse_qsl(req["body"].decode()))
        signature = form.pop("Signature", "")
        if form.get("AccessKeyId") != self.key_id:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        if signature != aliyun_signature(form, self.secret, req["method"]):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if form.get("Action") != "SendSms" or form.get("Version") != "2017-05-25":
            return 400, {"Code": "InvalidAction.NotFound", "Message": "bad action"}
        self.sent.append(form)
        return 200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"}


class FakeTencentSms(FakeServer):
    """Tencent Cloud SMS, API v3: JSON POST with a TC3-HMAC-SHA256 Authorization header."""

    def __init__(self, secret_id: str, secret_key: str) -> None:
        super().__init__()
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sent: list[dict[str, Any]] = []

    def handle(self, req: dict[str, Any]) -> tuple[int, Any]:
        h = req["headers"]
        auth = h.get("Authorization", "")
        payload = req["body"].decode()
        try:
            ts = int(h.get("X-TC-Timestamp", "0"))
            scope, signature = tc3_signature(self.secret_key, h.get("Host", ""), payload, ts)
        except ValueError:
            scope, signature = "", ""
        expected = (f"TC3-HMAC-SHA256 Credential={self.secret_id}/{scope}, SignedHeaders=content-type;host, "
                    f"Signature={signature}")
        if auth != expected:
            return 200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                                                "Message": "The provided credentials could not be validated."},
                                      "RequestId": "r1"}}
        body = json.loads(payload)
        self.sent.append(body)
        return 200, {"Response": {"SendStatusSet": [{"SerialNo": "5000:1045710669157053657849499619", "PhoneNumber":
                                                     body["PhoneNumberSet"][0], "Fee": 1, "SessionContext": "",
                                                     "Code": "Ok", "Message": "send success", "IsoCode": "CN"}],
                                  "RequestId": "a0aabda6"}}


class FakeWechat(FakeServer):
    """The WeChat official-account API: access token, OAuth code exchange, template messages."""

    def __init__(self, appid: str, secret: str) -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.issued = 0
        self.valid_tokens: set[str] = set()
        self.codes: dict[str, str] = {}  # OAuth code -> openid
        self.messages: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.next_openid = "oBrowserUser"  # who is "in WeChat" when the browser visits the authorise page
        self.on_template: Callable[[dict[str, Any]], tuple[int, Any]] | None = None

    def handle(self, req: dict[str, Any]) -> tuple[int, Any]:
        q = req["query"]
        if req["path"] == "/cgi-bin/token":
            if q.get("appid") != self.appid or q.get("secret") != self.secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.issued += 1
            token = f"TOKEN{self.issued}"
            self.valid_tokens.add(token)
            return 200, {"access_token": token, "expires_in": 7200}
        if req["path"] == "/connect/oauth2/authorize":
            # snsapi_base asks the user nothing: WeChat sends the browser straight back with a code.
            code = f"CODE{len(self.codes) + len(self.requests)}"
            self.codes[code] = self.next_openid
            return 302, f"{q['redirect_uri']}?code={code}&state={q['state']}"
        if req["path"] == "/sns/oauth2/access_token":
            openid = self.codes.pop(q.get("code", ""), None)
            if q.get("appid") != self.appid or q.get("secret") != self.secret or openid is None:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            return 200, {"access_token": "WEBTOKEN", "expires_in": 7200, "refresh_token": "R", "openid": openid,
                         "scope": "snsapi_base"}
        if req["path"] == "/cgi-bin/menu/create":
            if q.get("access_token") not in self.valid_tokens:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            self.menus.append(json.loads(req["body"]))
            return 200, {"errcode": 0, "errmsg": "ok"}
        if req["path"] == "/cgi-bin/message/template/send":
            if q.get("access_token") not in self.valid_tokens:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            body = json.loads(req["body"])
            self.messages.append(body)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        return 404, {"errcode": -1, "errmsg": "not found"}

    def expire_all(self) -> None:
        self.valid_tokens.clear()
