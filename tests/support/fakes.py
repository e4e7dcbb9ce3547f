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
                binary = isinstance(payload, bytes)  # an image (WeChat's media and avatars)
                data = payload if binary else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "image/jpeg" if binary else "application/json; charset=utf-8")
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


def jpeg(width: int = 320, height: int = 240, color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


class FakeWechat(FakeServer):
    """The WeChat official-account API: access token, OAuth code exchange (snsapi_base and snsapi_userinfo, the
    user info and the avatar image), the JS-SDK ticket, media download, template and subscription messages."""

    def __init__(self, appid: str, secret: str) -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.issued = 0
        self.tickets_issued = 0
        self.valid_tokens: set[str] = set()
        self.codes: dict[str, tuple[str, str]] = {}  # OAuth code -> (openid, scope)
        self.web_tokens: dict[str, tuple[str, str]] = {}  # web access token -> (openid, scope)
        self.messages: list[dict[str, Any]] = []
        self.subscription_messages: list[dict[str, Any]] = []
        self.accepted: set[tuple[str, str]] = set()  # (openid, template id) the user accepted in WeChat's popup
        self.menus: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}  # media id -> image, as uploaded by the client's uploadImage
        self.next_openid = "oBrowserUser"  # who is "in WeChat" when the browser visits the authorise page
        self.nickname = "张阿姨"
        self.on_template: Callable[[dict[str, Any]], tuple[int, Any]] | None = None

    @property
    def ticket(self) -> str:
        return f"TICKET{self.tickets_issued}"

    def code_for(self, openid: str, scope: str = "snsapi_base") -> str:
        code = f"CODE{len(self.codes) + len(self.requests)}-{openid}"
        self.codes[code] = (openid, scope)
        return code

    def _token_ok(self, q: dict[str, str]) -> bool:
        return q.get("access_token") in self.valid_tokens

    def handle(self, req: dict[str, Any]) -> tuple[int, Any]:
        q = req["query"]
        path = req["path"]
        if path == "/cgi-bin/token":
            if q.get("appid") != self.appid or q.get("secret") != self.secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.issued += 1
            token = f"TOKEN{self.issued}"
            self.valid_tokens.add(token)
            return 200, {"access_token": token, "expires_in": 7200}
        if path == "/connect/oauth2/authorize":
            # snsapi_base asks nothing; for snsapi_userinfo WeChat asks the user, who agrees here: either way
            # WeChat sends the browser back with a code.
            code = self.code_for(self.next_openid, q.get("scope", ""))
            return 302, f"{q['redirect_uri']}?code={code}&state={q['state']}"
        if path == "/sns/oauth2/access_token":
            openid, scope = self.codes.pop(q.get("code", ""), ("", ""))
            if q.get("appid") != self.appid or q.get("secret") != self.secret or not openid:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            web_token = f"WEBTOKEN{len(self.web_tokens) + 1}"
            self.web_tokens[web_token] = (openid, scope)
            return 200, {"access_token": web_token, "expires_in": 7200, "refresh_token": "R", "openid": openid,
                         "scope": scope}
        if path == "/sns/userinfo":
            openid, scope = self.web_tokens.get(q.get("access_token", ""), ("", ""))
            if not openid or openid != q.get("openid"):
                return 200, {"errcode": 40003, "errmsg": "invalid openid"}
            if scope != "snsapi_userinfo":
                return 200, {"errcode": 48001, "errmsg": "api unauthorized"}
            return 200, {"openid": openid, "nickname": self.nickname, "sex": 0, "province": "", "city": "",
                         "country": "", "headimgurl": f"{self.url}/mmopen/{openid}/0", "privilege": []}
        if path.startswith("/mmopen/"):  # WeChat's avatar host; the size is the last part (0 = 640 px)
            size = int(path.rsplit("/", 1)[1]) or 640
            return 200, jpeg(size, size, (30, 140, 90))
        if path == "/cgi-bin/ticket/getticket":
            if not self._token_ok(q):
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            if q.get("type") != "jsapi":
                return 200, {"errcode": 40097, "errmsg": "invalid args"}
            self.tickets_issued += 1
            return 200, {"errcode": 0, "errmsg": "ok", "ticket": self.ticket, "expires_in": 7200}
        if path == "/cgi-bin/media/get":
            if not self._token_ok(q):
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            data = self.media.get(q.get("media_id", ""))
            return (200, data) if data else (200, {"errcode": 40007, "errmsg": "invalid media_id"})
        if path == "/cgi-bin/menu/create":
            if not self._token_ok(q):
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            self.menus.append(json.loads(req["body"]))
            return 200, {"errcode": 0, "errmsg": "ok"}
        if path == "/cgi-bin/message/template/send":
            if not self._token_ok(q):
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            body = json.loads(req["body"])
            self.messages.append(body)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        if path == "/cgi-bin/message/subscribe/bizsend":
            if not self._token_ok(q):
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            body = json.loads(req["body"])
            if (body.get("touser"), body.get("template_id")) not in self.accepted:
                return 200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            self.subscription_messages.append(body)
            return 200, {"errcode": 0, "errmsg": "ok"}
        return 404, {"errcode": -1, "errmsg": "not found"}

    def expire_all(self) -> None:
        self.valid_tokens.clear()
