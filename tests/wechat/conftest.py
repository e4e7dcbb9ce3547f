"""The WeChat tests' fixture: a local fake of WeChat's API, and the app configured to use it."""

from __future__ import annotations

import pytest

from tests.support.fakes import FakeWechat

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them


@pytest.fixture
def wechat(monkeypatch):
    with FakeWechat("wxappid", "wxsecret") as fake:
        for k, v in {"QG_WECHAT_APP_ID": "wxappid", "QG_WECHAT_APP_SECRET": "wxsecret", "QG_WECHAT_TOKEN": "tok",
                     "QG_WECHAT_AES_KEY": AES_KEY, "QG_WECHAT_API_BASE": fake.url, "QG_WECHAT_OPEN_BASE": fake.url,
                     "QG_WECHAT_AVATAR_HOSTS": "127.0.0.1",
                     "QG_WECHAT_TEMPLATE_RESOLVED": "TPL_RESOLVED",
                     "QG_WECHAT_TEMPLATE_REOPENED": "TPL_REOPENED"}.items():
            monkeypatch.setenv(k, v)
        yield fake
