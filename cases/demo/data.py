"""The demo 三条市 (Sanjo, Niigata): agencies, staff, clients, shares and timeline texts. Names, addresses and phone
numbers are invented (a local number cannot start with 0, so no ``0256-0x-xxxx`` number is anyone's)."""

from dataclasses import dataclass
from datetime import date

from django.utils import translation

from agencies.models import AgencyKind, Role

from ..models import EntryKind, ShareBasis, ShareLevel

SEED = 20261123

# One password for every demo login (published in the README): passes the password validators.
DEMO_PASSWORD = "sanjo-tsunagu-demo"

# key → (code, name, kind)
AGENCIES = {
    "fukushi": ("fukushi", "三条市 福祉課", AgencyKind.CITY_DIVISION),
    "kourei": ("kourei", "三条市 高齢介護課", AgencyKind.CITY_DIVISION),
    "kosodate": ("kosodate", "三条市 子育て支援課", AgencyKind.CITY_DIVISION),
    "shakyo": ("shakyo", "三条市社会福祉協議会", AgencyKind.WELFARE_COUNCIL),
    "ranan": ("houkatsu-ranan", "地域包括支援センター嵐南", AgencyKind.SUPPORT_CENTER),
    "sakae": ("houkatsu-sakae", "地域包括支援センター栄", AgencyKind.SUPPORT_CENTER),
    "himawari": ("himawari", "相談支援事業所 ひまわり", AgencyKind.SUPPORT_CENTER),
    "sakura": ("sakura", "障がい者支援施設 さくら園", AgencyKind.FACILITY),
    "ryokufu": ("ryokufu", "特別養護老人ホーム 緑風苑", AgencyKind.FACILITY),
    "soumu": ("soumu", "三条市 総務課", AgencyKind.OTHER),
}

# username → (agency key, role, display name, privacy officer, note for the README)
STAFF = {
    "tanaka": ("fukushi", Role.CASEWORKER, "田中 美咲", False, "生活困窮・障がい・8050 の対象者を多く登録・担当"),
    "suzuki": ("fukushi", Role.SUPERVISOR, "鈴木 健二", False, "福祉課が登録した対象者の共有を設定・解除できる"),
    "watanabe": ("fukushi", Role.AGENCY_ADMIN, "渡辺 順子", False, "福祉課の職員と API キーを管理する"),
    "yamamoto": ("kourei", Role.SUPERVISOR, "山本 直人", False, "高齢者・虐待疑いの対象者を登録し共有を管理"),
    "nakamura": ("kosodate", Role.SUPERVISOR, "中村 彩", False, "子どもの対象者を登録し共有を管理"),
    "sato": ("shakyo", Role.CASEWORKER, "佐藤 大輝", False, "生活困窮の相談・貸付、日常生活自立支援事業"),
    "kobayashi": ("shakyo", Role.SUPERVISOR, "小林 恵子", False, "社協が登録した対象者の共有を管理"),
    "takahashi": ("ranan", Role.CASEWORKER, "高橋 亮", False, "高齢者を多く担当（緊急共有の対象者あり）"),
    "kato": ("sakae", Role.CASEWORKER, "加藤 さおり", False, "期限切れの共有が1件（その対象者は見えない）"),
    "yoshida": ("himawari", Role.CASEWORKER, "吉田 拓也", False, "相談支援専門員（解除された共有が1件）"),
    "ito": ("sakura", Role.CASEWORKER, "伊藤 真理", False, "共有は1件だけ（閲覧・追記: 短期入所の記録を書く）"),
    "matsumoto": ("ryokufu", Role.CASEWORKER, "松本 和也", False, "ショートステイ・入所の相談を担当"),
    "sakura-api": (
        "sakura",
        Role.INTEGRATION,
        "さくら園 記録システム連携",
        False,
        "パスワードなし（ログイン不可）。issue_api_key でキーを発行し API で使う",
    ),
    "kojima": ("soumu", Role.CASEWORKER, "小島 早苗", True, "個人情報保護管理者。共有がないので対象者は見えない"),
}


def role_label(role: str, privacy_officer: bool) -> str:
    """The role as the Japanese table of demo logins names it, whatever language is active when this is read."""
    with translation.override("ja"):
        label = str(Role(role).label)
    return f"{label}・個人情報保護管理者" if privacy_officer else label


# (username, agency name, role label, note): the table of demo logins in the README.
# Published second-factor secrets (base32) of the demo users who must sign in with one (privacy officer, agency
# administrator): add them to any authenticator app, or compute a code with `oathtool --totp -b SECRET`.
DEMO_MFA_SECRETS = {
    "watanabe": "WATANABETSUNAGUDEMOSANJOCITY2345",
    "kojima": "KOJIMATSUNAGUDEMOSANJOCITY234567",
}

DEMO_LOGINS = [
    (username, AGENCIES[agency][1], role_label(role, officer), note)
    for username, (agency, role, _name, officer, note) in STAFF.items()
]

# Who acts for each agency: registers its clients, manages its shares, writes its entries (first one most often).
CREATORS = {"fukushi": "tanaka", "kourei": "yamamoto", "kosodate": "nakamura", "shakyo": "sato"}
SHARE_MANAGERS = {"fukushi": "suzuki", "kourei": "yamamoto", "kosodate": "nakamura", "shakyo": "kobayashi"}
# Who carries each agency's cases (担当者): assigned when the agency first sees a client, so each caseworker's
# 自分の担当 tab starts with the cases a real caseload would hold.
ASSIGNEES = {
    "fukushi": "tanaka",
    "kourei": "yamamoto",
    "kosodate": "nakamura",
    "shakyo": "sato",
    "ranan": "takahashi",
    "sakae": "kato",
    "himawari": "yoshida",
    "sakura": "ito",
    "ryokufu": "matsumoto",
}
WRITERS = {
    "fukushi": ["tanaka", "tanaka", "suzuki"],
    "kourei": ["yamamoto"],
    "kosodate": ["nakamura"],
    "shakyo": ["sato", "sato", "kobayashi"],
    "ranan": ["takahashi"],
    "sakae": ["kato"],
    "himawari": ["yoshida"],
    "sakura": ["ito"],
    "ryokufu": ["matsumoto"],
}


@dataclass(frozen=True)
class ShareSpec:
    agency: str
    level: str
    basis: str
    expires_in_days: int | None = None
    fate: str = ""  # "" (stays active), "revoked" (share_revoke), "expired" (backdated past its expiry)
    note: str = ""  # basis note; a default per basis when empty


@dataclass(frozen=True)
class ClientSpec:
    name: str
    kana: str
    birth: date
    address: str
    tags: tuple[str, ...]
    owner: str
    shares: tuple[ShareSpec, ...] = ()
    themes: tuple[str, ...] = ()  # extra template themes that are not tags (DV)
    confidential: bool = False
    closing: str = ""  # the owner's last entry; the client is then closed (終結)


R, A, M = ShareLevel.READ, ShareLevel.APPEND, ShareLevel.MANAGE
CONSENT, MEETING, STATUTORY, EMERGENCY = (
    ShareBasis.CONSENT,
    ShareBasis.SUPPORT_MEETING,
    ShareBasis.STATUTORY,
    ShareBasis.EMERGENCY,
)


S = ShareSpec  # short, so that CLIENTS reads as a table


# fmt: off
CLIENTS = [
    # 8050: an elderly parent and a middle-aged child who has withdrawn from society, one household each.
    ClientSpec(
        "五十嵐 トメ", "イガラシ トメ", date(1939, 5, 14), "新潟県三条市東裏館2丁目14-8",
        ("高齢", "8050", "認知症"), "kourei",
        (S("ranan", A, CONSENT), S("fukushi", A, MEETING), S("shakyo", R, CONSENT)),
    ),
    ClientSpec(
        "五十嵐 浩一", "イガラシ コウイチ", date(1972, 9, 3), "新潟県三条市東裏館2丁目14-8",
        ("ひきこもり", "8050"), "fukushi",
        (S("kourei", R, MEETING), S("ranan", R, MEETING), S("shakyo", A, MEETING)),
    ),
    ClientSpec(
        "長谷川 勝", "ハセガワ マサル", date(1944, 1, 22), "新潟県三条市月岡1丁目5-21",
        ("高齢", "8050", "生活困窮"), "fukushi",
        (S("sakae", A, CONSENT), S("shakyo", A, CONSENT)),
    ),
    ClientSpec(
        "長谷川 大輔", "ハセガワ ダイスケ", date(1979, 6, 30), "新潟県三条市月岡1丁目5-21",
        ("ひきこもり", "8050", "障がい"), "fukushi",
        (S("himawari", A, CONSENT), S("sakae", R, MEETING)),
    ),
    ClientSpec(
        "本間 キヨ", "ホンマ キヨ", date(1942, 11, 2), "新潟県三条市西裏館1丁目9-3",
        ("高齢", "8050"), "kourei",
        (S("ranan", A, CONSENT), S("fukushi", R, MEETING)),
    ),
    ClientSpec(
        "本間 誠", "ホンマ マコト", date(1975, 2, 17), "新潟県三条市西裏館1丁目9-3",
        ("ひきこもり", "8050", "生活困窮"), "fukushi",
        (S("shakyo", A, MEETING), S("kourei", R, MEETING)),
    ),
    # Elderly people, registered by 高齢介護課.
    ClientSpec(
        "佐々木 ハル", "ササキ ハル", date(1936, 4, 8), "新潟県三条市旭町2丁目3-17",
        ("高齢", "認知症"), "kourei",
        (S("ranan", A, CONSENT), S("ryokufu", R, CONSENT), S("shakyo", A, CONSENT, expires_in_days=180)),
    ),
    ClientSpec(
        "阿部 正雄", "アベ マサオ", date(1941, 7, 19), "新潟県三条市荒町1丁目12-6",
        ("高齢", "虐待疑い"), "kourei",
        (S("sakae", M, STATUTORY), S("fukushi", R, STATUTORY)),
    ),
    ClientSpec(
        "小川 フミ", "オガワ フミ", date(1938, 12, 25), "新潟県三条市本町3丁目2-14",
        ("高齢", "認知症"), "kourei",
        (S("ryokufu", A, CONSENT), S("ranan", A, CONSENT)),
        closing="特別養護老人ホームへの入所が決まり、本日入所した。在宅での支援は終結とする。",
    ),
    ClientSpec(
        "近藤 清", "コンドウ キヨシ", date(1947, 3, 3), "新潟県三条市興野2丁目7-30",
        ("高齢", "生活困窮"), "kourei",
        (S("shakyo", A, CONSENT), S("fukushi", A, CONSENT, expires_in_days=90)),
    ),
    ClientSpec(
        "丸山 和子", "マルヤマ カズコ", date(1945, 8, 15), "新潟県三条市元町4-22",
        ("高齢",), "kourei",
        (S("ranan", A, EMERGENCY, expires_in_days=14),),
    ),
    ClientSpec(
        "斎藤 節子", "サイトウ セツコ", date(1940, 10, 10), "新潟県三条市塚野目3丁目18-2",
        ("高齢", "認知症"), "kourei",
        (
            S("sakae", A, CONSENT, expires_in_days=30, fate="expired",
              note="転居前の担当包括として、引継ぎが終わるまでの期間に限り本人の同意を得て共有。"),
            S("ranan", A, CONSENT),
        ),
    ),
    ClientSpec(
        "坂井 茂", "サカイ シゲル", date(1943, 2, 28), "新潟県三条市北入蔵1丁目4-9",
        ("高齢",), "kourei",
        (S("sakae", A, CONSENT),),
        closing="新潟市の長女宅へ転居。転居先の地域包括支援センターへ本人同意のうえ引継ぎ済み。支援終結とする。",
    ),
    ClientSpec(
        "捧 ミツ", "ササゲ ミツ", date(1935, 6, 6), "新潟県三条市南新保8-41",
        ("高齢", "虐待疑い", "認知症"), "kourei",
        (
            S("ranan", M, STATUTORY),
            S("fukushi", A, STATUTORY),
            S("ryokufu", R, EMERGENCY, expires_in_days=7,
              note="同居家族からの分離のため、やむを得ない事由による措置で緊急ショートステイを利用。"),
        ),
    ),
    ClientSpec(
        "横山 ヨシエ", "ヨコヤマ ヨシエ", date(1933, 1, 15), "新潟県三条市大島2215",
        ("高齢",), "kourei",
        (S("ryokufu", A, CONSENT), S("ranan", A, CONSENT)),
    ),
    ClientSpec(
        "野口 勇", "ノグチ イサム", date(1937, 8, 30), "新潟県三条市福島新田丁845",
        ("高齢", "認知症"), "kourei",
        (S("sakae", A, CONSENT), S("ryokufu", R, CONSENT)),
    ),
    # Disability, registered by 福祉課.
    ClientSpec(
        "樋口 健太", "ヒグチ ケンタ", date(1988, 4, 21), "新潟県三条市須頃2丁目56 メゾン須頃201",
        ("障がい",), "fukushi",
        (S("himawari", A, CONSENT), S("sakura", A, CONSENT)),
    ),
    ClientSpec(
        "星野 由美", "ホシノ ユミ", date(1983, 11, 11), "新潟県三条市東新保6-18",
        ("障がい", "生活困窮"), "fukushi",
        (S("himawari", A, CONSENT, fate="revoked"), S("shakyo", A, CONSENT)),
    ),
    ClientSpec(
        "田村 翔", "タムラ ショウ", date(1996, 1, 9), "新潟県三条市石上1丁目10-5",
        ("障がい", "ひきこもり"), "fukushi",
        (S("himawari", A, CONSENT, expires_in_days=365),),
    ),
    ClientSpec(
        "風間 博", "カザマ ヒロシ", date(1950, 9, 9), "新潟県三条市下田地区 飯田1290",
        ("高齢", "障がい"), "fukushi",
        (S("sakae", A, CONSENT), S("kourei", R, CONSENT)),
    ),
    # Poverty (生活困窮), registered by 福祉課 or 社協.
    ClientSpec(
        "若杉 美紀", "ワカスギ ミキ", date(1985, 3, 14), "新潟県三条市田島1丁目22-7 コーポ田島103",
        ("生活困窮",), "fukushi",
        (S("shakyo", A, MEETING),),
    ),
    ClientSpec(
        "須藤 直樹", "スドウ ナオキ", date(1981, 12, 20), "新潟県三条市上須頃412",
        ("ひきこもり",), "fukushi",
        (S("shakyo", A, MEETING, expires_in_days=180),),
    ),
    ClientSpec(
        "金子 隆", "カネコ タカシ", date(1968, 5, 5), "新潟県三条市本町6丁目1-33",
        ("生活困窮",), "shakyo",
        (S("fukushi", A, CONSENT),),
    ),
    ClientSpec(
        "西山 真由美", "ニシヤマ マユミ", date(1976, 8, 23), "新潟県三条市一ノ門1丁目3-12",
        ("生活困窮",), "shakyo",
        (S("kosodate", R, CONSENT),),
    ),
    ClientSpec(
        "土田 誠二", "ツチダ セイジ", date(1962, 12, 1), "新潟県三条市西大崎1丁目15-4",
        ("生活困窮",), "shakyo",
        (S("fukushi", R, CONSENT),),
        closing="市内の製造業に正社員として就職し、家計も安定した。本人と確認のうえ支援終結とする。",
    ),
    ClientSpec(
        "内山 幸子", "ウチヤマ サチコ", date(1949, 2, 11), "新潟県三条市島田2丁目8-19",
        ("高齢", "生活困窮"), "shakyo",
        (S("ranan", A, CONSENT),),
        closing="長岡市の長男宅へ転居するため支援終結。転居先の社会福祉協議会へ本人同意のうえ情報提供済み。",
    ),
    # Children, registered by 子育て支援課.
    ClientSpec(
        "熊倉 陽翔", "クマクラ ハルト", date(2016, 7, 7), "新潟県三条市西本成寺1丁目28-10",
        ("子ども", "虐待疑い"), "kosodate",
        (S("fukushi", R, STATUTORY),),
    ),
    ClientSpec(
        "外山 結衣", "トヤマ ユイ", date(2013, 2, 19), "新潟県三条市東大崎1丁目6-2",
        ("子ども", "障がい"), "kosodate",
        (S("himawari", A, CONSENT),),
    ),
    ClientSpec(
        "今井 蓮", "イマイ レン", date(2019, 10, 30), "新潟県三条市条南町11-5 ハイツ条南202",
        ("子ども", "生活困窮"), "kosodate",
        (S("fukushi", A, MEETING), S("shakyo", R, MEETING)),
    ),
    # DV: mother and child under DV等支援措置; the address is masked for every agency but the owner.
    ClientSpec(
        "関 恵", "セキ メグミ", date(1987, 6, 12), "新潟県三条市荻堀1034 アパート荻堀105",
        ("生活困窮",), "fukushi",
        (S("kosodate", A, MEETING), S("shakyo", R, CONSENT)),
        themes=("DV",), confidential=True,
    ),
    ClientSpec(
        "関 陽菜", "セキ ヒナ", date(2015, 4, 3), "新潟県三条市荻堀1034 アパート荻堀105",
        ("子ども",), "kosodate",
        (S("fukushi", A, STATUTORY),),
        themes=("DV",), confidential=True,
    ),
]
# fmt: on

DEFAULT_NOTES: dict[str, str] = {
    CONSENT: "本人から関係機関間の情報共有について書面で同意を得ている（同意書は{owner}で保管）。",
    MEETING: "重層的支援体制整備事業の支援会議で共有を決定。構成員には守秘義務がある。",
    EMERGENCY: "自宅で倒れているところを発見され救急搬送。本人の意思を確認できないため、生命・身体の保護のため"
    "緊急に共有する（回復後に本人の同意を確認する）。",
}
STATUTORY_NOTES = {
    "子ども": "児童福祉法第25条の3に基づく要保護児童対策地域協議会での情報交換のため。",
    "虐待疑い": "高齢者虐待防止法第9条に基づく事実確認と対応のため。",
}

# Timeline templates per agency: (kind, themes the client must have, body). "大人" / "子ども" tell adults and
# children apart; {ref} is "〇〇さん" for an adult and "本児" for a child.
K = EntryKind
TEMPLATES: dict[str, list[tuple[str, frozenset, str]]] = {}


def _templates(agency: str, *rows: tuple[str, str, str]) -> None:
    TEMPLATES[agency] = [(kind, frozenset(themes.split()), body) for kind, themes, body in rows]


# fmt: off
_templates(
    "fukushi",
    (K.CONSULTATION, "生活困窮 大人", "{ref}が来庁。家賃の滞納が3か月分あり、電気料金の督促状も届いているとのこと。"
     "収入はパート収入のみで月約9万円。自立相談支援の利用を案内し、家計の状況を一緒に確認した。"),
    (K.CONSULTATION, "障がい 大人", "{ref}と母親が来庁。就労継続支援B型の利用を希望。障害支援区分の認定調査の日程を"
     "調整することとした。"),
    (K.CONSULTATION, "ひきこもり", "母親から電話相談の後、来庁。{ref}は20年以上ほとんど自宅から出ていない。家族以外との"
     "会話はなく、母親の入院をきっかけに今後の生活が心配とのこと。当面は母親との面談を続け、本人への訪問は本人の了解を"
     "得てから行う方針。"),
    (K.CONSULTATION, "DV", "{ref}が来庁し、配偶者からの暴力について相談。子どもと共に親族宅に避難中。住民基本台帳の"
     "閲覧制限（DV等支援措置）の申出を案内し、警察署の意見書について説明した。"),
    (K.VISIT, "ひきこもり", "自宅を訪問。{ref}は自室から出てこなかったが、ドア越しに挨拶すると短く返事があった。"
     "手紙を置いて退出。次回も同じ曜日・時間帯に訪問すると伝えた。"),
    (K.VISIT, "生活困窮 大人", "自宅を訪問。室内は片付いているが、冷蔵庫の中はほとんど空。フードバンクの食料を手渡し、"
     "社協の緊急小口資金について説明した。"),
    (K.VISIT, "8050 高齢", "{ref}宅を訪問。同居の子は自室にいて会えなかったが、食事は一緒にとっているとのこと。"
     "{ref}は自分が入院したときの子の生活を心配している。"),
    (K.SERVICE, "生活困窮 大人", "住居確保給付金の申請を受理。支給決定までの見込み（約2週間）を{ref}に説明した。"),
    (K.SERVICE, "障がい 大人", "障害福祉サービスの支給決定通知を送付（就労継続支援B型、月22日）。"),
    (K.LIAISON, "ひきこもり", "ハローワーク三条の担当者と連絡調整。{ref}の就労準備支援について、次回面談に同席して"
     "もらうことになった。"),
    (K.LIAISON, "DV", "市民課と連絡調整し、DV等支援措置の申出を受理。住所は関係機関にも秘匿とし、連絡は携帯電話のみ"
     "とする。"),
    (K.LIAISON, "子ども", "子育て支援課と連絡調整。世帯の生活状況を共有し、生活保護の相談につなぐ方向で一致した。"),
    (K.MEETING, "大人", "支援会議を開催（福祉課、社協、地域包括支援センター）。{ref}の現状と各機関の役割分担を確認し、"
     "福祉課が全体の調整役を担うこととした。"),
    (K.CALL, "大人", "{ref}へ電話。体調に大きな変わりはないとのこと。次回の面談日（来週水曜10時）を確認した。"),
    (K.NOTE, "子ども", "世帯の家計の相談は福祉課で継続。本児への関わりは子育て支援課が中心となる。"),
    (K.NOTE, "大人", "{ref}の支援方針を課内で共有。次回の支援会議で今後の方針を再確認する。"),
)
_templates(
    "kourei",
    (K.CONSULTATION, "高齢", "長女から電話相談の後、来庁。{ref}は最近物忘れが多く、同じ物を何度も買ってくるとのこと。"
     "要介護認定の申請を案内した。"),
    (K.CONSULTATION, "虐待疑い", "近隣住民から通報。{ref}宅から夜間に怒鳴り声が聞こえ、腕にあざがあるのを見たとのこと。"
     "高齢者虐待防止法に基づき事実確認を行うこととし、地域包括支援センターと訪問日程を調整した。"),
    (K.SERVICE, "高齢", "要介護認定の申請を受理。認定調査は来月上旬、地域包括支援センターと日程を調整して実施予定。"),
    (K.SERVICE, "高齢", "要介護認定の結果、要介護1と決定。通知書を送付し、ケアマネジャーの選定を地域包括支援センターに"
     "引き継いだ。"),
    (K.MEETING, "虐待疑い", "高齢者虐待のコアメンバー会議を開催。事実確認の結果、身体的虐待の疑いありと判断。当面は"
     "デイサービスの利用回数を増やして見守り、同居の長男の介護負担の軽減を図る。"),
    (K.VISIT, "高齢", "{ref}宅を訪問。暖房は灯油ストーブのみのため、換気に気をつけるよう伝えた。冬の除雪について"
     "地区の除雪ボランティアを案内した。"),
    (K.CALL, "高齢", "担当ケアマネジャーから電話。{ref}のサービス利用状況に変わりはない。次回のモニタリング結果を"
     "共有してもらうことになった。"),
    (K.NOTE, "認知症", "認知症初期集中支援チームへの依頼を検討。次回の支援会議で提案する。"),
    (K.NOTE, "大人", "{ref}の件、課内で対応を協議。現行の支援を継続する。"),
)
_templates(
    "kosodate",
    (K.CONSULTATION, "子ども", "小学校から連絡。本児が今月に入り5日欠席しており、服装が汚れていることが多いとのこと。"
     "家庭の状況を確認するため家庭訪問を予定。"),
    (K.CONSULTATION, "子ども 障がい", "母親が来庁。本児の発達について相談。放課後等デイサービスの利用を希望しており、"
     "相談支援事業所を紹介した。"),
    (K.VISIT, "子ども", "家庭訪問。母親と面談し、本児も在宅。室内は散らかっているが食事はとれている様子。母親は仕事の"
     "掛け持ちで疲れているとのこと。子育て短期支援事業（ショートステイ）について説明した。"),
    (K.VISIT, "子ども 虐待疑い", "家庭訪問し本児の様子を確認。顔や腕に新しいあざは見られなかった。父親は不在。母親は"
     "「最近は落ち着いている」と話す。"),
    (K.MEETING, "子ども", "要保護児童対策地域協議会の個別ケース検討会議を開催（学校、子育て支援課、福祉課）。見守りを"
     "続け、欠席が続く場合は学校から当課へ連絡することを確認した。"),
    (K.CALL, "子ども", "担任へ電話で確認。今週は毎日登校しており、給食もよく食べているとのこと。"),
    (K.SERVICE, "子ども 生活困窮", "就学援助の申請書類を母親に送付。提出期限は今月末。"),
    (K.NOTE, "DV", "転校の手続きについて、前の住所地の学校に転校先を知らせないよう教育委員会に依頼済み。"),
    (K.VISIT, "DV 大人", "母子の避難先を訪問。{ref}は子どもの転校手続きを終え、少し落ち着いてきたと話す。"),
    (K.LIAISON, "DV 大人", "福祉課と連絡調整。{ref}の生活費の見通しについて、児童扶養手当の申請を案内することにした。"),
)
_templates(
    "shakyo",
    (K.CONSULTATION, "生活困窮", "{ref}が窓口に来所。失業で収入が途絶え、手持ちの現金は数千円とのこと。緊急小口資金の"
     "貸付について説明し、申請書の記入を手伝った。"),
    (K.SERVICE, "生活困窮", "フードバンクさんじょうから食料品（米5kg、缶詰、レトルト食品）を提供した。"),
    (K.SERVICE, "高齢", "日常生活自立支援事業による金銭管理を開始。生活支援員が月2回訪問し、公共料金の支払いと生活費の"
     "払い出しを行う。"),
    (K.VISIT, "大人", "生活支援員が訪問。{ref}は元気そうで、通帳の残高を一緒に確認した。次回は月末に訪問予定。"),
    (K.LIAISON, "大人", "地区の民生委員と連絡調整。{ref}宅の見守りとして、週1回の声かけをお願いした。"),
    (K.CALL, "生活困窮 大人", "{ref}から電話。貸付金の返済開始時期について問い合わせがあり、据置期間と返済計画を"
     "説明した。"),
    (K.NOTE, "ひきこもり", "社協の居場所づくり事業（カフェ「ほっと」）の案内をご家族に渡した。本人の参加は急がない。"),
    (K.NOTE, "子ども", "世帯にフードバンクの利用を案内。母親の了解を得て、月1回食料を届けることにした。"),
    (K.NOTE, "大人", "{ref}の件を所内ケース会議で共有。現在の支援を続ける。"),
)
_HOUKATSU = (
    (K.VISIT, "高齢", "{ref}宅を訪問。血圧は140/86で、本人は「変わりない」と話す。服薬カレンダーを確認すると、昼の薬の"
     "飲み忘れが週2回ほどあった。"),
    (K.CONSULTATION, "高齢", "民生委員から相談。{ref}が最近外出しなくなり、郵便物がたまっているとのこと。翌日訪問する"
     "こととした。"),
    (K.LIAISON, "高齢", "居宅介護支援事業所のケアマネジャーと連絡調整。{ref}のデイサービスを週2回から3回に増やす方向で"
     "ケアプランを見直す。"),
    (K.MEETING, "高齢", "サービス担当者会議に出席（本人、長女、ケアマネジャー、デイサービス、訪問介護）。現在の"
     "ケアプランを続けることを確認した。"),
    (K.CALL, "高齢", "{ref}の長女から電話。冬の間だけでもショートステイを利用できないかとの相談。ケアマネジャーに"
     "伝えることとした。"),
    (K.VISIT, "虐待疑い", "高齢介護課と同行訪問し事実確認。{ref}の右上腕に直径3cmほどの内出血あり。本人は「転んだ」と"
     "説明。同居の長男は介護疲れを訴えている。"),
    (K.VISIT, "8050 高齢", "{ref}宅を訪問。同居の子とは会えなかったが、{ref}によると最近は夕食を一緒にとるようになった"
     "とのこと。"),
    (K.NOTE, "認知症", "認知症の進行がみられる。成年後見制度（市長申立て）の検討について、高齢介護課に相談する。"),
    (K.NOTE, "大人", "{ref}の件をセンター内で共有。見守りを続ける。"),
)
_templates("ranan", *_HOUKATSU)
_templates("sakae", *_HOUKATSU)
_templates(
    "himawari",
    (K.CONSULTATION, "障がい 大人", "{ref}と面談し、サービス等利用計画の作成に向けてアセスメントを実施。日中は自宅で"
     "過ごすことが多く、週に何日かは外で活動したいとの希望。"),
    (K.SERVICE, "障がい 大人", "サービス等利用計画案を作成し、{ref}に説明して同意を得た。福祉課へ提出。"),
    (K.MEETING, "障がい 大人", "サービス担当者会議を開催（本人、母親、就労継続支援B型事業所、福祉課）。通所は"
     "来月1日からと確認した。"),
    (K.VISIT, "障がい 大人", "モニタリングのため訪問。通所は週4日ほどできており、作業にも慣れてきたとのこと。"),
    (K.CALL, "大人", "{ref}から電話。通所先の人間関係で悩んでいるとのこと。次回のモニタリングで詳しく聞くことにした。"),
    (K.CONSULTATION, "子ども 障がい", "母親と面談し、障害児支援利用計画の作成に向けてアセスメントを実施。本児は"
     "放課後等デイサービスの利用を希望している。"),
    (K.SERVICE, "子ども 障がい", "障害児支援利用計画案を作成し、母親の同意を得た。"),
    (K.LIAISON, "子ども 障がい", "放課後等デイサービスの事業所と連絡調整。本児の通所日を週2回から"
     "3回に増やす方向で検討。"),
)
_templates(
    "sakura",
    (K.SERVICE, "障がい", "短期入所（ショートステイ）を3泊4日で利用。食事・入浴とも問題なく過ごした。"),
    (K.LIAISON, "障がい", "相談支援事業所と連絡調整し、来月の短期入所の日程を決めた。"),
    (K.NOTE, "障がい", "利用中、夜間に2回ほど目を覚ましたが、職員の声かけで再び眠った。"),
)
_templates(
    "ryokufu",
    (K.SERVICE, "高齢", "ショートステイを利用（5泊6日）。入浴介助と機能訓練を実施。食事量は8割ほど。"),
    (K.CONSULTATION, "高齢", "ご家族から入所申込みについて相談。入所判定の流れと待機状況（現在約40名）を説明した。"),
    (K.LIAISON, "高齢", "担当ケアマネジャーと連絡調整し、次回のショートステイの利用日を決めた。"),
    (K.NOTE, "認知症", "利用中、夕方になると「家に帰る」と落ち着かない様子。職員が付き添って施設内を散歩すると"
     "落ち着いた。"),
)
# fmt: on

CORRECTIONS = [
    "【訂正】記録の日時に誤りがありました。正しくは同日の午後2時30分です。",
    "【訂正】記録した電話番号はご本人ではなく別居のご家族のものでした。連絡先は基本情報の番号を使ってください。",
    "【訂正】同席者の記載が漏れていました。地区の民生委員も同席しています。",
]
CORRECTED = {"五十嵐 トメ", "阿部 正雄", "若杉 美紀"}  # whose timelines get a correction

# The week of use before today: (client, agency that writes, working days ago: 1 is the last weekday). Written
# after every client's history, so each agency hears of a few recent entries by the others (its unread notices when
# the demo starts).
WEEK = [
    ("樋口 健太", "himawari", 6),
    ("風間 博", "fukushi", 6),
    ("五十嵐 トメ", "ranan", 5),
    ("外山 結衣", "himawari", 5),
    ("風間 博", "sakae", 5),
    ("樋口 健太", "sakura", 4),
    ("横山 ヨシエ", "ryokufu", 4),
    ("長谷川 勝", "shakyo", 4),
    ("田村 翔", "fukushi", 4),
    ("五十嵐 浩一", "shakyo", 3),
    ("野口 勇", "sakae", 3),
    ("今井 蓮", "fukushi", 3),
    ("樋口 健太", "fukushi", 2),
    ("捧 ミツ", "ranan", 2),
    ("関 陽菜", "fukushi", 2),
    ("長谷川 大輔", "himawari", 2),
    ("樋口 健太", "himawari", 1),
    ("阿部 正雄", "sakae", 1),
    ("関 恵", "kosodate", 1),
    ("佐々木 ハル", "shakyo", 1),
]


# A support meeting (支援会議, 社会福祉法第106条の6) last week about the 長谷川 household (8050),
# convened by 福祉課. 社協 confirmed 守秘義務 the same day (its meeting share of 大輔 started; it
# already shared 勝); 高齢介護課 has not yet (its shares of both wait: 山本 sees the meeting on his
# home page, to confirm). The minutes give each agency its action items (役割分担): 社協's is overdue
# by now; 高齢介護課's shows once it confirms.
@dataclass(frozen=True)
class MeetingSpec:
    days_ago: int  # working days
    convener: str
    title: str
    clients: tuple[str, ...]
    attendees: tuple[str, ...]  # agency keys
    confirms: str  # who confirms 守秘義務 (for the first attendee)
    share_level: str
    share_days: int
    recorder: str
    summary: str
    decisions: str
    # (agency, client, task, due in days from today: negative is overdue)
    action_items: tuple[tuple[str, str, str, int], ...]


DEMO_MEETING = MeetingSpec(
    days_ago=5,
    convener="suzuki",
    title="長谷川さん世帯 支援会議（8050）",
    clients=("長谷川 勝", "長谷川 大輔"),
    attendees=("shakyo", "kourei"),
    confirms="kobayashi",
    share_level=A,
    share_days=90,
    recorder="tanaka",
    summary=(
        "勝さんの年金収入のみで世帯の家計が逼迫しており、公共料金の滞納が始まっている。大輔さんは自室で過ごす"
        "ことが多いが、勝さんの通院には付き添えている。勝さんは最近物忘れが増え、本人も不安を口にしている。"
    ),
    decisions=(
        "社協が家計相談と日常生活自立支援事業を案内する。高齢介護課が要介護認定の申請を支援する。福祉課は大輔さん"
        "との面談を継続し、次回の会議で就労準備支援につなぐか検討する。"
    ),
    action_items=(
        ("shakyo", "長谷川 勝", "家計相談の予約を取り、日常生活自立支援事業を説明する", -2),
        ("kourei", "長谷川 勝", "要介護認定の申請を支援する（主治医意見書の依頼を含む）", 10),
        ("fukushi", "長谷川 大輔", "自宅を訪問し、大輔さんと面談する", 5),
        ("fukushi", "長谷川 勝", "公共料金の滞納状況を確認する", 12),
    ),
)

# How many of the week's notices each person has not read yet (the newest ones); the rest were read that day.
UNREAD_AT_MOST = 6


@dataclass(frozen=True)
class InquirySpec:
    """An inquiry (照会) last week: who asked which agency about whom, and the answer if one came."""

    client: str
    asker: str  # username
    to: str  # agency key
    subject: str
    body: str
    days_ago: int  # the working day it was asked
    due_in_days: int  # the answer is wanted this many days after asking
    answerer: str = ""  # username; empty: still awaiting an answer
    answer: str = ""


INQUIRIES = [
    InquirySpec(
        "本間 誠",
        "tanaka",
        "shakyo",
        "生活福祉資金の償還状況",
        "緊急小口資金の償還が滞っていないか、また今月の面談日が決まっていれば教えてください。",
        days_ago=4,
        due_in_days=7,
        answerer="sato",
        answer="償還は毎月予定どおりです。今月の面談は第3水曜の午後に社協で行います。",
    ),
    InquirySpec(
        "長谷川 勝",
        "tanaka",
        "sakae",
        "要介護認定の申請状況",
        "長男の大輔さんから、父の要介護認定の申請が進んでいないと相談がありました。申請の状況と、"
        "訪問調査の予定があれば教えてください。",
        days_ago=1,
        due_in_days=5,
    ),
]


@dataclass(frozen=True)
class FilesVisitSpec:
    """A visit whose entry carries the demo's attachments (made by ``cases.demo.files``: nothing of a real
    person): the consent form the client signed, and a photo of the state of the home whose made-up GPS
    coordinates the upload removes."""

    client: str
    writer: str
    working_days_ago: int
    hour: int
    minute: int
    body: str
    consent_name: str
    photo_name: str


FILES_VISIT = FilesVisitSpec(
    client="長谷川 勝",
    writer="tanaka",
    working_days_ago=9,
    hour=14,
    minute=10,
    body=(
        "自宅を訪問。関係機関との情報共有について改めて説明し、本人から同意書に署名をもらった（写しを添付）。"
        "居間には段ボールや袋が積まれ、布団は敷いたままで、転倒の危険がある。片付けと福祉用具の利用を、"
        "本人の了承を得て社協・栄地域包括と調整する。室内の様子を写真で記録した（本人了承済み）。"
    ),
    consent_name="情報共有に関する同意書.pdf",
    photo_name="自宅の様子.jpg",
)
