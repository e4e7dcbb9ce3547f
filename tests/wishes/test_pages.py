"""The micro-wish pages over HTTP: the whole flow, verification and privacy masking, permissions."""

from __future__ import annotations

import io
import re

from PIL import Image

from backend.accounts.tables import Account
from backend.wishes import checks as service
from backend.wishes.tables import Claim, Wish
from tests.support.factories import fresh_phone, unique
from tests.support.people import unit
from tests.support.wishes import ADDRESS, NAME, jpeg_with_exif, published_wish

MULTI = {"photos": ("", b"", "application/octet-stream")}  # an empty file input, as browsers send it


def wish_form(community_id: int, title: str, phone: str) -> dict[str, str]:
    return {"title": title, "story": "脑瘫患者，行走不便，希望有一根结实的拐杖。", "group": "disabled", "value": "120",
            "community": str(community_id), "beneficiary_name": NAME, "beneficiary_phone": phone,
            "beneficiary_address": ADDRESS, "honorific": "male", "action": "submit"}


def assert_private_absent(html: str, phone: str) -> None:
    assert NAME not in html and phone not in html and ADDRESS not in html
    assert "大山" not in html and "桃园北路" not in html


async def _wish_id(location: str) -> int:
    m = re.fullmatch(r"/wishes/(\d+)", location)
    assert m, location
    return int(m.group(1))


async def test_whole_flow_over_http(client, new_client) -> None:
    haixi = await unit("LX-1")
    owner_phone, member_phone, ben_phone = fresh_phone(), fresh_phone(), fresh_phone()
    title = unique("新运动鞋")

    # A resident drafts a wish for a family member, with a photo carrying EXIF.
    await client.login_resident(owner_phone)
    r = await client.get("/wishes/new")
    assert r.status_code == 200 and "csrf" in r.text
    r = await client.post("/wishes/new", data=wish_form(haixi.id, title, ben_phone),
                          files={"photos": ("stick.jpg", jpeg_with_exif(), "image/jpeg")})
    assert r.status_code == 303, r.text
    wish_id = await _wish_id(r.headers["location"])
    r = await client.get(f"/wishes/{wish_id}")
    assert r.status_code == 200 and "待审核" in r.text and NAME in r.text  # the author sees the private part

    async with new_client() as anon:
        assert (await anon.get(f"/wishes/{wish_id}")).status_code == 404  # not verified: not public
        assert title not in (await anon.get("/wishes")).text

    # The community verifies it.
    async with new_client() as staff:
        await staff.login_staff("haixi")
        r = await staff.get("/wishes/review")
        assert r.status_code == 200 and title in r.text
        r = await staff.post(f"/wishes/{wish_id}/approve")
        assert r.status_code == 303

        # Published pages never show the beneficiary's name, phone or address.
        async with new_client() as anon:
            page = await anon.get(f"/wishes/{wish_id}")
            assert page.status_code == 200 and title in page.text
            assert "闫先生 · 海西社区" in page.text
            assert_private_absent(page.text, ben_phone)
            board = await anon.get("/wishes", params={"community": haixi.id, "group": "disabled"})
            assert board.status_code == 200 and title in board.text and "闫先生" in board.text
            assert_private_absent(board.text, ben_phone)
            htmx = await anon.get("/wishes", params={"community": haixi.id}, headers={"HX-Request": "true"})
            assert title in htmx.text and "<html" not in htmx.text
            # The photo is re-encoded: a JPEG ≤320 px without the original's metadata.
            photo_id = re.search(r"/wishes/photos/(\d+)/thumb", page.text).group(1)
            thumb = await anon.get(f"/wishes/photos/{photo_id}/thumb")
            assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
            img = Image.open(io.BytesIO(thumb.content))
            assert max(img.size) <= 320 and not img.getexif() and b"SecretCam" not in thumb.content
            full = Image.open(io.BytesIO((await anon.get(f"/wishes/photos/{photo_id}/full")).content))
            assert max(full.size) == 1600

        # A party member claims it, records contact and fulfils it with proof.
        await Account.update({Account.is_party_member: True}).where(
            Account.id == (await _account(member_phone)).id)
        async with new_client() as member:
            await member.login_resident(member_phone)
            r = await member.post(f"/wishes/{wish_id}/claim")
            assert r.status_code == 303
            r = await member.get(f"/wishes/{wish_id}")
            assert NAME in r.text and ben_phone in r.text  # the claimer needs to reach the beneficiary
            r = await member.post(f"/wishes/{wish_id}/fulfil", data={"note": "x"})
            assert r.status_code == 409 and "请先记录" in r.text
            assert (await member.post(f"/wishes/{wish_id}/contact", data={"note": "已电话联系"})).status_code == 303
            r = await member.post(f"/wishes/{wish_id}/fulfil", data={"note": "已送到"}, files=MULTI)
            assert r.status_code == 400 and "请上传至少一张照片" in r.text and 'aria-invalid="true"' in r.text
            assert (await _wish(wish_id)).status == "contacted"
            r = await member.post(f"/wishes/{wish_id}/fulfil", data={"note": "已送到"},
                                  files={"photos": ("proof.jpg", jpeg_with_exif((800, 600)), "image/jpeg")})
            assert r.status_code == 303
            # The wrong person cannot confirm.
            r = await member.post(f"/wishes/{wish_id}/confirm", data={"thanks_story": "x"})
            assert r.status_code == 403 and (await _wish(wish_id)).status == "fulfilled"

            # The beneficiary's family confirms, with a thank-you story they agree to publish.
            r = await client.post(f"/wishes/{wish_id}/confirm",
                                  data={"thanks_story": "感谢党员同志送来的拐杖！", "thanks_consent": "1"})
            assert r.status_code == 303
            wish = await _wish(wish_id)
            assert wish.status == "confirmed" and wish.fulfilled_at is not None

            mine = await member.get("/wishes/mine")
            assert mine.status_code == 200 and title in mine.text and "已实现心愿：1 个" in mine.text
            assert 'data-testid="fulfilled-at"' in mine.text

        async with new_client() as anon:
            page = await anon.get(f"/wishes/{wish_id}")
            assert "感谢党员同志送来的拐杖！" in page.text and "已圆梦" in page.text
            assert_private_absent(page.text, ben_phone)
            done = await anon.get("/wishes", params={"status": "done", "community": haixi.id})
            assert title in done.text
            stats = await anon.get("/wishes/stats")
            assert stats.status_code == 200 and "海西社区" in stats.text

    async with new_client() as zzb:
        await zzb.login_staff("zzb")
        r = await zzb.get("/wishes/records")
        assert r.status_code == 200 and member_phone in r.text
        member_id = (await _account(member_phone)).id
        r = await zzb.get(f"/wishes/records/{member_id}")
        assert r.status_code == 200 and title in r.text


async def _account(phone: str) -> Account:
    acc = await Account.objects().where(Account.phone == phone).first()
    if acc is None:
        acc = Account(kind="resident", phone=phone, name="")
        await acc.save()
    return acc


async def _wish(wish_id: int) -> Wish:
    return await Wish.objects().where(Wish.id == wish_id).first()


async def test_second_claimer_sees_already_claimed(client, new_client) -> None:
    wish_id = await published_wish()
    phones = [fresh_phone(), fresh_phone()]
    for p in phones:
        await Account.update({Account.is_party_member: True}).where(Account.id == (await _account(p)).id)
    await client.login_resident(phones[0])
    assert (await client.post(f"/wishes/{wish_id}/claim")).status_code == 303
    async with new_client() as other:
        await other.login_resident(phones[1])
        r = await other.post(f"/wishes/{wish_id}/claim")
        assert r.status_code == 409 and "已被认领" in r.text
    assert await Claim.count().where(Claim.wish == wish_id) == 1


async def test_bad_form_is_reshown_with_errors(client) -> None:
    haixi = await unit("LX-1")
    await client.login_resident(fresh_phone())
    ben_phone = fresh_phone()
    form = wish_form(haixi.id, unique("心愿"), ben_phone) | {"story": f"我是{NAME}，电话 {ben_phone}", "value": "abc"}
    before = await Wish.count()
    r = await client.post("/wishes/new", data=form, files=MULTI)
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text and "预估价值" in r.text
    form["value"] = "50"
    r = await client.post("/wishes/new", data=form, files=MULTI)
    assert r.status_code == 400 and "不能出现受助人的姓名" in r.text
    r = await client.post("/wishes/new", data=form | {"story": "普通故事"},
                          files={"photos": ("x.jpg", b"not an image", "image/jpeg")})
    assert r.status_code == 400 and "不是支持的图片格式" in r.text
    assert await Wish.count() == before


async def test_permissions(client, new_client) -> None:
    haixi = await unit("LX-1")
    owner_phone = fresh_phone()
    await client.login_resident(owner_phone)
    r = await client.post("/wishes/new", data=wish_form(haixi.id, unique("心愿"), fresh_phone()), files=MULTI)
    wish_id = await _wish_id(r.headers["location"])
    # The author cannot verify their own wish; neither can another community's staff.
    assert (await client.post(f"/wishes/{wish_id}/approve")).status_code == 403
    assert (await client.get("/wishes/review")).status_code == 403
    assert (await client.get("/wishes/records")).status_code == 403
    async with new_client() as other:
        await other.login_staff("nanhaijie")
        assert (await other.post(f"/wishes/{wish_id}/approve")).status_code == 403
        assert (await other.get(f"/wishes/{wish_id}")).status_code == 404
        r = await other.post(f"/wishes/{wish_id}/reject", data={"reason": "x"})
        assert r.status_code == 403
    async with new_client() as anon:
        r = await anon.post(f"/wishes/{wish_id}/claim")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (await anon.get("/wishes/mine")).status_code == 303
    async with new_client() as head:
        await head.login_staff("haixi")
        assert (await head.get("/wishes/records")).status_code == 403
        r = await head.post(f"/wishes/{wish_id}/reject", data={"reason": ""})
        assert r.status_code == 400 and "请填写未通过的原因" in r.text
        r = await head.post(f"/wishes/{wish_id}/reject", data={"reason": "请补充照片"})
        assert r.status_code == 303
    assert (await _wish(wish_id)).status == "rejected"
    # A non-member cannot claim a published one.
    published = await published_wish()
    r = await client.post(f"/wishes/{published}/claim")
    assert r.status_code == 403 and "党员" in r.text
    assert (await _wish(published)).status == "published"
    # The author edits the rejected wish and sends it back for checking.
    form = wish_form(haixi.id, "修改后的心愿", fresh_phone())
    r = await client.post(f"/wishes/{wish_id}/edit", data=form | {"action": "submit"}, files=MULTI)
    assert r.status_code == 303 and (await _wish(wish_id)).status == "pending"


async def test_staff_drafts_on_behalf_and_edits_for_privacy(client) -> None:
    haixi = await unit("LX-1")
    other = await unit("MQ-1")
    await client.login_staff("haixi")
    assert (await client.get("/staff")).text.count("微心愿审核") == 1
    ben_phone = fresh_phone()
    r = await client.post("/wishes/new", data=wish_form(other.id, unique("心愿"), ben_phone), files=MULTI)
    assert r.status_code == 400 and "负责的社区" in r.text
    title = unique("植物园一日游")
    r = await client.post("/wishes/new", data=wish_form(haixi.id, title, ben_phone) | {"group": "left_behind_child"},
                          files=MULTI)
    wish_id = await _wish_id(r.headers["location"])
    r = await client.get(f"/wishes/{wish_id}/edit")
    assert r.status_code == 200 and title in r.text and ben_phone in r.text
    form = wish_form(haixi.id, title, ben_phone) | {"story": "家住桃园北路 18 号 3 单元 502 的孩子想去植物园"}
    r = await client.post(f"/wishes/{wish_id}/edit", data=form, files=MULTI)
    assert r.status_code == 400 and "详细地址" in r.text
    r = await client.post(f"/wishes/{wish_id}/edit", data=form | {"story": "留守儿童想去植物园，还想要一双运动鞋"},
                          files=MULTI)
    assert r.status_code == 303
    assert (await client.post(f"/wishes/{wish_id}/approve")).status_code == 303
    wish = await _wish(wish_id)
    assert wish.status == "published" and wish.owner is None and wish.story.startswith("留守儿童")


def test_masking() -> None:
    assert service.mask_name("闫大山", "male") == "闫先生"
    assert service.mask_name("欧阳春花", "female") == "欧阳女士"
    assert service.mask_name("李四", "family") == "李家"
    assert service.mask_name("", "male") == "某某"
    assert service.privacy_problems(["联系 138-0000-1234"], "王五", "13800001234", "某路 1 号") is not None
    assert service.privacy_problems(["一根拐杖"], "王五", "13800001234", "某路 1 号") is None


async def test_draft_then_submit(client, new_client) -> None:
    haixi = await unit("LX-1")
    async with new_client() as anon:
        r = await anon.get("/wishes/new")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    await client.login_resident(fresh_phone())
    title = unique("助听器")
    form = wish_form(haixi.id, title, fresh_phone()) | {"action": "draft", "group": "elderly"}
    r = await client.post("/wishes/new", data=form, files=MULTI)
    wish_id = await _wish_id(r.headers["location"])
    assert (await _wish(wish_id)).status == "draft"
    mine = await client.get("/wishes/mine")
    assert title in mine.text and "草稿" in mine.text
    async with new_client() as head:
        await head.login_staff("haixi")
        assert title not in (await head.get("/wishes/review")).text
        r = await client.post(f"/wishes/{wish_id}/edit", data=form | {"action": "submit"}, files=MULTI)
        assert r.status_code == 303 and (await _wish(wish_id)).status == "pending"
        assert title in (await head.get("/wishes/review")).text
