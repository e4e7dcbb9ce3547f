"""What a person sees of the security hardening (issue 15): the demo-mode banner."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


async def test_demo_banner_is_visible_on_every_page(phone, shot) -> None:
    page = await phone.new_page()
    for path in ["/", "/login", "/wishes"]:
        await page.goto(path)
        banner = page.locator("[data-testid=demo-banner]")
        assert await banner.is_visible()
        assert "演示模式" in await banner.inner_text()
    await shot(page, "demo-banner")
    async with page.expect_navigation():
        await page.click("button[name=lang][value=en]")
    assert "Demo mode" in await page.locator("[data-testid=demo-banner]").inner_text()
    await shot(page, "demo-banner-en")


async def test_report_written_before_sign_in_is_confirmed_after_it(phone, shot, tmp_path) -> None:
    from backend.requests.tables import Request
    from tests.e2e.conftest import photo_file
    from tests.e2e.test_resident import fill_report
    from tests.support.factories import fresh_phone, unique

    page = await phone.new_page()
    description = unique("登录前写的：楼道灯坏了 ")
    await fill_report(page, description)
    await page.locator("#photos").set_input_files(str(photo_file(tmp_path, 1200, 900)))
    async with page.expect_navigation():
        await page.click("#report button[type=submit]")
    assert "/login" in page.url
    assert await page.locator("[data-testid=report-kept]").is_visible()
    await page.fill("#phone", fresh_phone())
    await page.click("button[type=submit]:has-text('获取验证码')")
    code = (await page.locator("[data-testid=demo-code] strong").inner_text()).strip()
    await page.fill("#code", code)
    async with page.expect_navigation():
        await page.click("form[action='/login/verify'] button[type=submit]")
    # Back on the form, filled in, with a note: nothing is filed until the resident taps Submit.
    assert "/report/resume/" in page.url
    assert await page.locator("[data-testid=resume-notice]").is_visible()
    assert await page.input_value("#description") == description
    assert "已保存 1 张照片" in await page.locator("[data-testid=kept-photos]").inner_text()
    assert await Request.count().where(Request.description == description) == 0
    await shot(page, "resume-confirm")
    await page.click("#report button[type=submit]")
    await page.wait_for_url("**/report/done/**")
    await shot(page, "done")
    assert await Request.count().where(Request.description == description) == 1
    # The photo taken before sign-in came along (the resumed form's POST reads its draft).
    code = page.url.rstrip("/").rsplit("/", 1)[-1]
    await page.goto(f"/r/{code}")
    await page.locator("[data-testid=photo]").first.wait_for()
    assert await page.locator("[data-testid=photo]").count() == 1
    await shot(page, "request-with-photo")


async def test_admin_lifts_a_lockout(phone, shot) -> None:
    from backend.accounts import service
    from backend.accounts.service import AuthError
    from tests.e2e.conftest import login_staff

    for _ in range(5):
        with pytest.raises(AuthError):
            await service.authenticate_staff("hwk", "wrong", "203.0.113.99")
    page = await phone.new_page()
    await login_staff(page, "admin")
    await page.goto("/admin")
    async with page.expect_navigation():
        await page.click("a[href='/admin/lockouts']")
    row = page.locator("[data-testid=lockout][data-username=hwk]")
    assert "失败 5 次" in await row.inner_text()
    await shot(page, "lockouts")
    async with page.expect_navigation():
        await row.locator("[data-testid=lift]").click()
    assert await page.locator("[data-testid=lockout][data-username=hwk]").count() == 0
    await shot(page, "lifted")


async def test_pages_work_under_the_strict_csp(phone, shot) -> None:
    """No page needs an inline script: the browser reports no CSP violation and htmx still works."""
    from tests.e2e.conftest import login_staff

    page = await phone.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in ["/", "/report", "/login", "/wishes", "/public", "/public/stats"]:
        r = await page.goto(path)
        assert r is not None and "script-src 'self'" in (r.headers.get("content-security-policy") or "")
    await login_staff(page, "zhzx")
    for path in ["/staff", "/cc/queue", "/dashboard", "/staff/field"]:
        await page.goto(path)
        await page.wait_for_load_state("networkidle")
    # htmx ran (it loads the notification count into the header after the page loaded).
    await page.locator("[data-testid=notifications-link] .count").count()
    assert await page.evaluate("typeof htmx") == "object"
    await shot(page, "strict-csp")
    assert violations == []


async def test_too_many_uploads_get_a_clear_message(phone, shot, tmp_path) -> None:
    from backend.media.service import UPLOAD_LIMITS
    from backend.redis import redis_client
    from tests.e2e.conftest import photo_file
    from tests.e2e.test_resident import fill_report
    from tests.support.factories import unique

    # This hour's photos from this address are used up (the live server sees the browser as 127.0.0.1).
    await redis_client().set("upload:ip:127.0.0.1:n", UPLOAD_LIMITS["ip"][0], ex=3600)
    page = await phone.new_page()
    await fill_report(page, unique("上传太多 "), photo_file(tmp_path, 800, 600))
    await page.click("#report button[type=submit]")
    await page.get_by_text("一小时内上传的照片太多").wait_for()
    await shot(page, "upload-limit")
    assert "操作过于频繁" in await page.content()
    assert "分钟后重试" in await page.locator("[data-testid=retry-after]").inner_text()  # not "3597 秒"
    await redis_client().delete("upload:ip:127.0.0.1:n")
