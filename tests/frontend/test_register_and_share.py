"""Registering a client (with the duplicate warning) and the sharing pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from cases.models import Client as ClientModel
from cases.models import Share
from tests.frontend.conftest import text

NEW = {
    "name": "鈴木 一郎",
    "name_kana": "すずき いちろう",
    "birth_date": "1950-02-03",
    "address": "新潟県三条市元町1-1",
    "phone": "0256-11-2222",
    "tags": ["高齢", "8050"],
    "other_tags": "認知症、独居",
    "basis": "consent",
}
CREATE = "frontend:client_create"


# --- register ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "sam", "ada", "bob", "carol", "charlie", "erin", "rick", "penny"])
def test_register_form_for_every_staff_member(cast, as_user, who):
    response = as_user(who).get(reverse(CREATE))
    assert response.status_code == 200
    body = text(response)
    assert '<label for="id_name_kana">フリガナ<span class="req">必須</span></label>' in body
    assert 'hx-post="/clients/new/duplicates/"' in body


def test_an_officer_who_does_no_casework_may_not_register(cast, as_user):
    """olga (the office's administrator and a privacy officer) does no casework: no link to the form, no form, and
    a registration posted anyway is refused by the service, audited once."""
    olga = as_user("olga")
    home = text(olga.get(reverse("frontend:client_list")))
    assert reverse(CREATE) not in home and "新規登録" not in home
    form = olga.get(reverse(CREATE))
    assert form.status_code == 403 and "支援業務の役割のない個人情報保護管理者を除く" in text(form)
    before, seq = ClientModel.objects.count(), AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0]
    refused = olga.post(reverse(CREATE), NEW)
    assert refused.status_code == 403 and "個人情報保護管理者は支援記録を扱いません。" in text(refused)
    denied = AuditEvent.objects.filter(seq__gt=seq, outcome="denied")
    assert [(e.action, e.reason, e.actor_username) for e in denied] == [("client.create", "privacy_officer", "olga")]
    assert ClientModel.objects.count() == before


def test_register_creates_the_client_owned_by_my_agency(cast, as_user):
    client = as_user("carol")
    response = client.post(reverse(CREATE), NEW)
    assert response.status_code == 302
    created = ClientModel.objects.get(name="鈴木 一郎")
    assert created.owner_agency.code == "houkatsu" and created.name_kana == "スズキ イチロウ"
    assert created.tags == ["高齢", "8050", "認知症", "独居"]
    page = text(client.get(response["Location"]))
    assert "鈴木 一郎 さんを登録しました" in page and created.case_number in page
    assert AuditEvent.objects.filter(action="client.create", actor_username="carol", channel="web").count() == 1


def test_the_registration_message_naming_the_client_stays_on_the_server(cast, as_user):
    """The success message names the client: it is kept in the server-side session, not in a cookie the browser
    (and anything that logs cookies) can read."""
    client = as_user("carol")
    response = client.post(reverse(CREATE), NEW)
    assert response.status_code == 302
    for morsel in response.cookies.values():
        assert morsel.key != "messages"
        assert "鈴木" not in morsel.value and "\\u9234" not in morsel.value
    page = client.get(response["Location"])
    assert "鈴木 一郎 さんを登録しました" in text(page)
    assert "messages" not in page.cookies or not page.cookies["messages"].value


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "この項目は必須です。"),
        ({"name_kana": "suzuki"}, "name_kana", "フリガナはひらがなまたはカタカナで入力してください。"),
        ({"birth_date": "2999-01-01"}, "birth_date", "生年月日が正しくありません。"),
        ({"birth_date": "昭和25年"}, "birth_date", "生年月日は YYYY-MM-DD の形式で入力してください。"),
        ({"phone": "電話なし"}, "phone", "電話番号は数字とハイフンで入力してください。"),
        ({"basis": "whim"}, "basis", "正しく選択してください"),
    ],
)
def test_bad_registration_shows_the_field_error_and_creates_nothing(cast, as_user, changes, field, message):
    before = ClientModel.objects.count()
    response = as_user("alice").post(reverse(CREATE), {**NEW, **changes})
    body = text(response)
    assert response.status_code == 400
    assert message in body
    assert f'id="id_{field}_error"' in body and f'aria-describedby="id_{field}' in body.replace("helptext ", "")
    assert ClientModel.objects.count() == before


def test_duplicate_warning_lists_visible_matches_and_registers_only_when_confirmed(cast, as_user):
    same_person = {**NEW, "name": "山田 太郎", "name_kana": "ヤマダタロウ", "birth_date": "1948-04-01"}
    client = as_user("bob")  # bob's agency sees the client through a share
    before = ClientModel.objects.count()
    warned = client.post(reverse(CREATE), same_person)
    assert warned.status_code == 200 and "同じフリガナ・生年月日の支援対象者が既に登録されています。" in text(warned)
    assert cast.client.case_number in text(warned) and ClientModel.objects.count() == before
    event = AuditEvent.objects.filter(action="client.search", actor_username="bob").latest("seq")
    assert event.details["purpose"] == "duplicate_check" and event.client_ids == [str(cast.client.id)]
    confirmed = client.post(reverse(CREATE), {**same_person, "confirm_duplicate": "1"})
    assert confirmed.status_code == 302 and ClientModel.objects.count() == before + 1


def test_duplicate_check_never_reveals_a_client_my_agency_cannot_see(cast, as_user):
    same_person = {**NEW, "name": "山田 太郎", "name_kana": "やまだ たろう", "birth_date": "1948-04-01"}
    check = as_user("charlie").post(reverse("frontend:client_duplicates"), same_person, HTTP_HX_REQUEST="true")
    assert check.status_code == 200 and text(check).strip() == ""
    assert as_user("charlie").post(reverse(CREATE), same_person).status_code == 302  # no warning: registered
    live = as_user("alice").post(
        reverse("frontend:client_duplicates"),
        {"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "birth_date": "1948-04-01"},
        HTTP_HX_REQUEST="true",
    )
    assert cast.client.case_number in text(live)


# --- sharing -------------------------------------------------------------------------------------------


def share_url(cast, name="share_page", *args):
    return reverse(f"frontend:{name}", args=[cast.client.id, *args])


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("sam", 200),
        ("ada", 200),
        ("alice", 403),  # the managing agency, but a caseworker
        ("bob", 403),  # read share
        ("carol", 403),  # append share
        ("charlie", 404),
        ("erin", 404),
        ("rick", 404),
        ("penny", 404),
    ],
)
def test_share_page_by_role(cast, as_user, who, status):
    response = as_user(who).get(share_url(cast))
    assert response.status_code == status
    body = text(response)
    if status == 200:
        assert "共有先の一覧" in body and "三条市社会福祉協議会" in body and "支援会議" in body
        assert "解除済み" in body and "期限切れ" in body  # the history: revoked and lapsed shares
    elif status == 403:
        assert "この操作は許可されていません" in body and "山田" not in body
        assert AuditEvent.objects.filter(action="share.manage", outcome="denied", actor_username=who).exists()
    else:
        assert "ページが見つかりません" in body


GRANT = {"agency": "shisetsu", "level": "read", "basis": "support_meeting", "basis_note": "11/20 支援会議"}


def test_grant_has_a_confirmation_step_then_the_partner_sees_the_client(cast, as_user):
    sam = as_user("sam")
    confirm = sam.post(share_url(cast, "share_grant"), GRANT)
    assert (
        confirm.status_code == 200
        and "共有設定の確認" in text(confirm)
        and "障がい者支援施設 さくら園" in text(confirm)
    )
    assert not Share.objects.filter(agency__code="shisetsu").exists()  # nothing yet
    back = sam.post(share_url(cast, "share_grant"), {**GRANT, "edit": "1"})
    assert back.status_code == 200 and "共有を追加・変更" in text(back) and "11/20 支援会議" in text(back)
    done = sam.post(share_url(cast, "share_grant"), {**GRANT, "confirm": "1"})
    assert done.status_code == 302
    assert "障がい者支援施設 さくら園 との共有を設定しました。" in text(sam.get(done["Location"]))
    assert as_user("charlie").get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"agency": ""}, "この項目は必須です。"),
        ({"agency": "fukushi"}, "正しく選択してください"),  # the owner agency is not offered
        ({"agency": "nowhere"}, "正しく選択してください"),
        ({"level": "owner"}, "正しく選択してください"),
        ({"expires_on": "2000-01-01"}, "有効期限は未来の日時"),
        ({"basis_note": "あ" * 501}, "根拠の補足は500文字以内で入力してください。"),
    ],
)
def test_bad_grant_shows_errors_and_changes_nothing(cast, as_user, changes, message):
    before = Share.objects.count()
    response = as_user("sam").post(share_url(cast, "share_grant"), {**GRANT, **changes, "confirm": "1"})
    assert response.status_code == 400 and message in text(response)
    assert Share.objects.count() == before


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("bob", 403), ("charlie", 404)])
def test_non_managers_cannot_grant_or_revoke(cast, as_user, who, status):
    before = list(Share.objects.order_by("pk").values_list("pk", "revoked_at"))
    client = as_user(who)
    assert client.post(share_url(cast, "share_grant"), {**GRANT, "confirm": "1"}).status_code == status
    revoke = share_url(cast, "share_revoke", cast.shares["reader"].id)
    assert client.post(revoke).status_code == status
    assert list(Share.objects.order_by("pk").values_list("pk", "revoked_at")) == before


def test_revoke_has_a_confirmation_step_and_takes_effect_at_once(cast, as_user):
    sam, bob = as_user("sam"), as_user("bob")
    url = share_url(cast, "share_revoke", cast.shares["reader"].id)
    confirm = sam.get(url)
    assert confirm.status_code == 200 and "三条市社会福祉協議会 との共有を解除しますか" in text(confirm)
    assert bob.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 200
    done = sam.post(url)
    assert done.status_code == 302
    assert bob.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 404
    timeline = text(sam.get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "三条市社会福祉協議会 との共有を解除しました" in timeline  # the system entry


def test_owner_share_cannot_be_revoked_and_unknown_shares_are_not_found(cast, as_user):
    sam = as_user("sam")
    owner_share = Share.objects.get(client_id=cast.client.id, agency__code="fukushi")
    response = sam.post(share_url(cast, "share_revoke", owner_share.pk))
    assert response.status_code == 400 and "登録機関（所有機関）の共有は解除できません。" in text(response)
    assert Share.objects.get(pk=owner_share.pk).revoked_at is None
    assert sam.get(share_url(cast, "share_revoke", "no-such-share")).status_code == 404


def test_expiry_date_means_the_end_of_that_day_in_japan(cast, as_user):
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    as_user("sam").post(share_url(cast, "share_grant"), {**GRANT, "expires_on": day, "confirm": "1"})
    share = Share.objects.get(agency__code="shisetsu")
    local = timezone.localtime(share.expires_at)
    assert local.date().isoformat() == day and (local.hour, local.minute) == (23, 59)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_share_expiry_takes_the_same_dates_as_every_date_field(language):
    from django.utils import translation

    from frontend.forms import ShareGrantForm

    def errors(value: str):
        form = ShareGrantForm({"level": "read", "basis": "consent", "expires_on": value})
        form.is_valid()
        return form.errors.get("expires_on")

    with translation.override(language):
        assert errors("2030-11-23") is None
        assert errors("2030/11/23") is None
        assert errors("11/23/2030") == [translation.gettext("日付は YYYY-MM-DD の形式で入力してください。")]


def _granted_by_cells(body: str) -> list[str]:
    import re

    return re.findall(r'<td class="col-opt small">[^<]*<span class="kana">(.*?)</span></td>', body)


def test_the_share_table_names_who_granted_each_share_by_name_with_the_user_name_beside_it(cast, as_user):
    from agencies.models import Staff

    cells = _granted_by_cells(text(as_user("sam").get(share_url(cast))))
    # The display name first (the cast's are capitalised user names), the user name only beside it.
    assert 'Alice <span class="mono">alice</span>' in cells and 'Sam <span class="mono">sam</span>' in cells
    assert all(c in ('Alice <span class="mono">alice</span>', 'Sam <span class="mono">sam</span>') for c in cells)
    # No display name: the account's family and given name, in Japanese order.
    Staff.objects.filter(user__username="sam").update(display_name="")
    sam = cast.users["sam"]
    sam.last_name, sam.first_name = "佐藤", "三郎"
    sam.save(update_fields=["last_name", "first_name"])
    cells = _granted_by_cells(text(as_user("sam").get(share_url(cast))))
    assert any(c.startswith("佐藤 三郎 ") for c in cells), cells
    assert not any(c.strip() == "sam" for c in cells)


def test_person_name_falls_back_from_display_name_to_family_given_to_user_name(cast):
    from django.contrib.auth import get_user_model

    from agencies.people import person_name

    assert person_name(cast.users["sam"]) == "Sam"
    nobody = get_user_model()(username="kimura", last_name="木村", first_name="拓也")
    assert person_name(nobody) == "木村 拓也"
    assert person_name(get_user_model()(username="kimura")) == "kimura"
    assert person_name(None) == "システム"
