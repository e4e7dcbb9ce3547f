"""The real SMS providers, reached through the production code at a local server speaking their wire format."""

from __future__ import annotations

import logging

import pytest

from backend.accounts import service
from backend.accounts.service import AuthError
from backend.accounts.sms import AliyunSmsGateway, SmsError, TencentSmsGateway, get_gateway
from tests.support.factories import fresh_phone
from tests.support.fakes import FakeAliyunSms, FakeTencentSms


@pytest.fixture
def aliyun(monkeypatch):
    with FakeAliyunSms("LTAIkey", "aliyun-secret") as fake:
        for k, v in {"QG_SMS_PROVIDER": "aliyun", "QG_SMS_KEY_ID": "LTAIkey", "QG_SMS_KEY_SECRET": "aliyun-secret",
                     "QG_SMS_SIGN_NAME": "迎泽群工", "QG_SMS_TEMPLATE_CODE": "SMS_1001",
                     "QG_SMS_TEMPLATE_RESOLVED": "SMS_1002", "QG_SMS_BASE_URL": fake.url}.items():
            monkeypatch.setenv(k, v)
        yield fake


@pytest.fixture
def tencent(monkeypatch):
    with FakeTencentSms("AKIDtc", "tencent-secret") as fake:
        for k, v in {"QG_SMS_PROVIDER": "tencent", "QG_SMS_KEY_ID": "AKIDtc", "QG_SMS_KEY_SECRET": "tencent-secret",
                     "QG_SMS_SIGN_NAME": "迎泽群工", "QG_SMS_TEMPLATE_CODE": "1001", "QG_SMS_APP_ID": "1400000001",
                     "QG_SMS_TEMPLATE_REOPENED": "1003", "QG_SMS_BASE_URL": fake.url}.items():
            monkeypatch.setenv(k, v)
        yield fake


async def test_env_chooses_the_provider(aliyun, monkeypatch) -> None:
    assert isinstance(get_gateway(), AliyunSmsGateway)
    monkeypatch.setenv("QG_SMS_PROVIDER", "tencent")
    assert isinstance(get_gateway(), TencentSmsGateway)
    monkeypatch.setenv("QG_SMS_PROVIDER", "log")
    assert get_gateway().name == "log"


async def test_aliyun_sign_in_code_is_sent_signed(aliyun, client) -> None:
    phone = fresh_phone()
    code = await service.request_code(phone, "10.1.0.1")
    assert len(aliyun.sent) == 1
    sent = aliyun.sent[0]
    assert sent["PhoneNumbers"] == phone and sent["TemplateCode"] == "SMS_1001" and sent["SignName"] == "迎泽群工"
    assert sent["TemplateParam"] == f'{{"code": "{code}"}}'
    await service.verify_code(phone, code)  # the code that went out is the one that signs in


async def test_aliyun_wrong_secret_is_refused_by_the_provider_and_retried_once(aliyun, monkeypatch, caplog) -> None:
    monkeypatch.setenv("QG_SMS_KEY_SECRET", "not-the-secret")
    caplog.set_level(logging.WARNING, "qungong.sms")
    with pytest.raises(SmsError) as err:
        await get_gateway().send_code(fresh_phone(), "123456")
    assert err.value.code == "SignatureDoesNotMatch"
    assert len(aliyun.requests) == 2 and aliyun.sent == []
    assert caplog.text.count("SignatureDoesNotMatch") == 2


async def test_aliyun_transient_error_then_success_is_one_message(aliyun) -> None:
    aliyun.script.append((200, {"Code": "isp.SYSTEM_ERROR", "Message": "system error", "RequestId": "x"}))
    await get_gateway().send_notice(fresh_phone(), "resolved", {"code": "YZ1234"})
    assert len(aliyun.requests) == 2 and len(aliyun.sent) == 1
    assert aliyun.sent[0]["TemplateCode"] == "SMS_1002"


async def test_failed_code_is_a_clear_message_not_a_500(aliyun, client, monkeypatch) -> None:
    aliyun.script += [(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"})] * 2
    phone = fresh_phone()
    r = await client.post("/login/code", data={"phone": phone, "next": "/"})
    assert r.status_code == 400 and "短信发送失败" in r.text
    with pytest.raises(AuthError):  # no usable code was left behind
        await service.verify_code(phone, "000000")


async def test_tencent_code_is_sent_with_a_valid_tc3_signature(tencent) -> None:
    phone = fresh_phone()
    await get_gateway().send_code(phone, "654321")
    assert tencent.sent == [{"PhoneNumberSet": [f"+86{phone}"], "SmsSdkAppId": "1400000001", "SignName": "迎泽群工",
                             "TemplateId": "1001", "TemplateParamSet": ["654321"]}]


async def test_tencent_forged_signature_is_refused(tencent, monkeypatch) -> None:
    monkeypatch.setenv("QG_SMS_KEY_SECRET", "forged")
    with pytest.raises(SmsError) as err:
        await get_gateway().send_code(fresh_phone(), "654321")
    assert err.value.code == "AuthFailure.SignatureFailure" and tencent.sent == []


async def test_tencent_per_number_error_code_is_reported(tencent) -> None:
    answer = {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit",
                                              "Message": "the number of sms messages sent from a single mobile number "
                                                         "every day exceeds the upper limit"}], "RequestId": "r"}}
    tencent.script += [(200, answer), (200, answer)]
    with pytest.raises(SmsError) as err:
        await get_gateway().send_notice(fresh_phone(), "reopened", {"code": "YZ1"})
    assert err.value.code == "LimitExceeded.PhoneNumberDailyLimit"


async def test_daily_cap_per_phone(tencent, monkeypatch) -> None:
    monkeypatch.setenv("QG_SMS_DAILY_CAP", "2")
    phone = fresh_phone()
    await get_gateway().send_code(phone, "111111")
    await get_gateway().send_code(phone, "222222")
    with pytest.raises(SmsError) as err:
        await get_gateway().send_code(phone, "333333")
    assert err.value.code == "daily_cap" and len(tencent.sent) == 2
    await get_gateway().send_code(fresh_phone(), "444444")  # another phone is not affected
    assert len(tencent.sent) == 3


async def test_missing_template_is_an_error_not_a_silent_drop(tencent) -> None:
    with pytest.raises(SmsError, match="no template"):
        await get_gateway().send_notice(fresh_phone(), "resolved", {"code": "YZ1"})
    assert tencent.requests == []
