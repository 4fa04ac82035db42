"""Generate the kit's bundled default dataset: persons and their addresses in short Japanese news texts.

Each record is one chat sample (system prompt, a 1-3 sentence news-style text, the JSON answer) that
follows the annotation guideline: every named real person once, in order of first appearance, in the
fullest form the text gives (titles, ages, readings stripped), with "address" only for a residence.
Texts are composed from varied parts (openings, clauses, predicates, quotes) across crime, accidents,
politics, economy, sports, entertainment, culture, science, international and local news, with foreign
name styles, surname-only mentions, non-residence places, look-alike distractors and ~28% texts
without any person. 40% of the texts with a person (HARD_SHARE) have one of the shapes of real news that a model
trained on full-name-first texts misses (SHAPE_TAGS): a person named only by the surname with a title or
suffix, or alone as in sports ('大谷は'); ring names, stage names and single names; lists of three to six
persons in one sentence; katakana foreign names with nothing around them; a person deep inside a long sentence.
Residences come at prefecture, city/ward, town and street level. Japanese names come from names_ja.tsv
(converted from japanese-personal-name-dataset by src/v1_000_make_names.py, see NAMES_NOTICE.md) and Faker.
The same --seed always gives byte-identical files; --stats prints the shares of every phenomenon.

Run from the repository root:
    python src/v1_000_make_dataset.py [--train-size 1500] [--validation-size 120] [--seed 0] [--out-dir DIR] [--stats]
Writes DIR/train.jsonl and DIR/validation.jsonl (default DIR: tmp_docker/dataset in the repository), one chat
record per line. Validation is drawn from its own stream (seed+1) and never repeats a training text.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from faker import Faker

from ftkit.task import EXTRACTION_SYSTEM_PROMPT

# ---------------------------------------------------------------- settings
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "tmp_docker" / "dataset"
NEGATIVE_SHARE = 0.28                        # texts with no person at all
HARD_SHARE = 0.40                            # texts with a person drawn from HARD_SCENES (the SHAPE_TAGS shapes)
PERSON_COUNT_WEIGHTS = {1: 36, 2: 34, 3: 20, 4: 10}
ADDRESS_LEVEL_WEIGHTS = {"pref": 2, "city": 5, "town": 2, "street": 3}  # town: "…市〇〇町", street: "…2丁目3番"
MIN_CHARS, MAX_CHARS = 25, 200               # short texts keep a CPU epoch around five minutes
# Who lives next door: mostly Japanese names, but foreign residents appear in real local news too.
CIVILIAN_KINDS = {"jp": 84, "viet": 5, "chinese": 4, "korean_kanji": 3, "korean_kata": 3, "kata": 1}
EXPERT_KINDS = {"jp": 72, "kata": 10, "latin": 8, "chinese": 5, "korean_kanji": 5}
TEAM_KINDS = {"jp": 70, "kata": 15, "mononym": 15}                 # men's baseball and soccer
SOLO_KINDS = {"jp": 55, "kata": 12, "korean_kata": 10, "chinese": 10, "korean_kanji": 8, "latin": 5}
ARTIST_KINDS = {"jp": 70, "kata": 10, "korean_kata": 8, "latin": 6, "initials": 6}
EXEC_KINDS = {"jp": 78, "kata": 8, "latin": 7, "initials": 7}

W = str.split  # word lists are written as space-separated strings to keep the data compact
NAMES_FILE = REPO_ROOT / "tmp_docker" / "dataset" / "names_ja.tsv"  # from src/v1_000_make_names.py, see NAMES_NOTICE.md
# The "hard" shapes of real news that a model trained on full-name-first texts misses; each record that has one
# carries its tag, and shape_stats() reports their shares.
SHAPE_TAGS = ("shape:lone_surname", "shape:stage_name", "shape:list", "shape:kata_alone", "shape:deep")


def load_names(path=NAMES_FILE):
    """names_ja.tsv -> (surnames [(written, reading)], their weights, male given names, female given names)."""
    sur, weights, given = [], [], {"m": [], "f": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, written, reading, weight = line.split("\t")
        if kind == "sur":
            sur.append((written, reading))
            weights.append(int(weight) ** 0.5)  # common surnames stay common, rare ones still come up
        else:
            given[kind].append((written, reading))
    if not sur or not given["m"] or not given["f"]:
        raise ValueError(f"{path}: no names in it; rebuild it with python src/v1_000_make_names.py")
    return sur, weights, given["m"], given["f"]


def pairs(s):  # "王:ワン 李:リー" -> [("王", "ワン"), ...]
    return [tuple(w.split(":")) for w in s.split()]


# ---------------------------------------------------------------- name material (invented combinations)
JP_SUR_EXTRA = pairs("大谷:おおたに 菅原:すがわら 今井:いまい 宮崎:みやざき 久保:くぼ 野口:のぐち 松尾:まつお 千葉:ちば "
                     "菊地:きくち 桑原:くわばら 永井:ながい 内田:うちだ 横山:よこやま 荒木:あらき 平野:ひらの 水野:みずの "
                     "杉山:すぎやま 増田:ますだ 小野:おの 上田:うえだ 柴田:しばた 酒井:さかい 工藤:くどう 宮本:みやもと "
                     "安藤:あんどう 河野:こうの 武田:たけだ 野村:のむら 片山:かたやま 岩崎:いわさき 星野:ほしの 本田:ほんだ "
                     "樋口:ひぐち 望月:もちづき 服部:はっとり 黒田:くろだ 東:ひがし 新垣:あらかき 比嘉:ひが 五十嵐:いがらし")
JP_GIVEN_M = pairs("大輝:だいき 陽翔:はると 蓮:れん 悠真:ゆうま 健太:けんた 大介:だいすけ 誠:まこと 隆:たかし 雅人:まさと "
                   "颯太:そうた 優斗:ゆうと 正義:まさよし 勝:まさる 一郎:いちろう 秀明:ひであき 功:いさお 達也:たつや")
JP_GIVEN_F = pairs("さくら:さくら 美咲:みさき 葵:あおい 陽菜:ひな 凛:りん 彩花:あやか 真由美:まゆみ 恵子:けいこ 由紀:ゆき "
                   "千尋:ちひろ 綾乃:あやの ひかり:ひかり 朋子:ともこ 久美子:くみこ 理恵:りえ 奈々:なな 節子:せつこ 和子:かずこ")
# Western names by origin: (male given names, female given names, surnames), so that a French minister sounds French.
KATA = {o: (W(m), W(f), W(sur)) for o, m, f, sur in [
    ("en", "ジョン マイケル デビッド ジェームズ ロバート ウィリアム トーマス リチャード ポール マーク ピーター アンドリュー ダニエル "
     "ケビン ブライアン スティーブン ジョージ エドワード クリストファー マシュー ジョシュア ライアン ジャスティン ケネス",
     "エミリー サラ ジェシカ ローラ ケイト エレン ハンナ オリビア エマ エリザベス メアリー レベッカ アシュリー グレース "
     "ナタリー アマンダ ジェニファー レイチェル",
     "スミス ジョンソン ブラウン ミラー ウィルソン テイラー アンダーソン トンプソン ハリス クラーク ウォーカー アレン ライト "
     "スコット グリーン ベイカー アダムズ ネルソン キャンベル ミッチェル ロバーツ カーター エバンス ターナー パーカー コリンズ "
     "ヤング キング ライト ヒル ムーア ジャクソン マーティン リー ホワイト ハリソン ルイス ロビンソン ウォーカー ホール "
     "クーパー モーガン ベル マーフィー ベネット グレイ ハワード ワード フォスター ブルックス ケリー サンダース プライス "
     "スチュワート モリス ロジャーズ リード クック ベイリー ヒューズ ウッド ワトソン フレミング ギブソン ハンター"),
    ("fr", "ピエール ニコラ ジャン＝リュック ジャン＝ピエール フランソワ", "ソフィー クレール マリー カミーユ",
     "デュボワ ルフェーブル モロー マルタン ベルナール ルロワ"),
    ("de", "ハンス ステファン カール＝ハインツ ルーカス ミヒャエル", "クララ アンナ ザビーネ ユリア",
     "シュミット ミュラー フィッシャー ベッカー ワーグナー シュナイダー"),
    ("it", "マルコ ジュゼッペ ルカ", "ジュリア キアラ フランチェスカ", "ロッシ ビアンキ コロンボ リッチ"),
    ("ru", "セルゲイ イワン アレクセイ ドミトリー", "アンナ オリガ ナタリア", "ペトロフ イワノフ ソコロフ ボルコフ"),
    ("pt", "カルロス ミゲル ルイス ラファエル", "マリア アナ ベアトリス", "シルバ サントス オリベイラ ソウザ"),
    ("es", "カルロス ミゲル ホセ", "ソフィア ルシア", "ガルシア マルティネス ロペス ゴンサレス")]}
KATA_ORIGINS = {"en": 50, "fr": 10, "de": 10, "it": 6, "ru": 6, "pt": 8, "es": 10}
MONONYMS = W("ロドリーニョ カイキーニョ ルアンジーニョ タッシオ ヴィニシオ エドゥアルジーニョ ジエゴン マテウジーニョ "
             "ジュニオール レアンドロン チアギーニョ ドウグラシーニョ ファビーニョ エウトン ジョアンジーニョ")
INITIALS = W("A B C D E F G H J K L M P R S T W")
# Given names come as (male, female) lists: Vietnamese "バン" / "ティ" middle names mark the gender.
VIET_SUR = W("グエン チャン レ ファム ホアン ブイ ドー")
VIET_GIVEN = (W("バン・ナム バン・フン ミン・トゥアン ドゥック・アイン"), W("ティ・ホア ティ・ラン ティ・マイ ティ・トゥー"))
CN_SUR = pairs("王:ワン 李:リー 張:チャン 劉:リウ 陳:チェン 楊:ヤン 趙:チャオ 黄:ホアン 周:チョウ 呉:ウー 孫:スン 馬:マー 胡:フー 郭:グオ")
CN_GIVEN = (pairs("偉:ウェイ 強:チアン 磊:レイ 軍:ジュン 傑:ジエ 浩:ハオ 建華:ジエンホア 志強:ジーチアン 文博:ウェンボー 暁東:シアオドン "
                  "国平:グオピン 明輝:ミンフイ"), pairs("芳:ファン 敏:ミン 静:ジン 海燕:ハイイエン 秀英:シウイン 雪梅:シュエメイ 麗娟:リージュエン"))
KR_SUR = pairs("金:キム 李:イ 朴:パク 崔:チェ 鄭:チョン 姜:カン 尹:ユン 韓:ハン 申:シン 権:クォン 柳:ユ 徐:ソ")
KR_GIVEN = (pairs("民俊:ミンジュン 志勲:ジフン 成浩:ソンホ 泰佑:テウ 在賢:ジェヒョン 東旭:ドンウク 炳哲:ビョンチョル"),
            pairs("瑞妍:ソヨン 恩恵:ウネ 秀晶:スジョン 英美:ヨンミ 美善:ミソン 賢珠:ヒョンジュ 知英:ジヨン"))
VOCAB_SUR, VOCAB_SUR_WEIGHTS, VOCAB_GIVEN_M, VOCAB_GIVEN_F = load_names()
VOCAB_SUR_CUM = list(accumulate(VOCAB_SUR_WEIGHTS))
HIST_GIVEN = W("宗信 景元 直孝 光政 重春 忠房 義晴 長重 久通 信房 政之 利貞 頼綱 元春 貞宗 晴信 勝頼 氏康 義元 光秀 長政 "
                "秀秋 輝元 隆景 正則 清正 忠興 宗茂 直政 康政 景勝 兼続 昌幸 幸綱 泰時 時頼 義貞 正成 尊氏 持氏")
# Ring names, stage names and single names (invented in the usual patterns): these people are named by them alone.
SUMO_HEAD = W("若 琴 栃 朝 豊 千代 北 玉 照 宝 霧 翔 貴 隆 錦 大 天 阿 明 剣 御 宇 美 志 輝 碧 安 北勝 正 熱 武 王 東 翠 遠 "
              "英 豪 琴ノ 若ノ 朝乃 大の 千代の 栃ノ 玉ノ 豊ノ 金 白 黒 青 紅 旭 日翔 隠岐 佐田 出羽 湘南 阿蘇 土佐 肥後")
SUMO_TAIL = W("山 海 龍 富士 錦 嵐 桜 鵬 勝 昇 風 翔 光 勢 國 丸 里 花 浪 城 峰 力 舞 乃山 ノ山 乃花 の里 ノ富士 ノ海 ノ龍 ノ若 "
              "乃若 旭 王 響 心 輝 鷲 獅子 猛 神 剛 昇龍 若 天 大海 ノ島 乃城")
SUMO_RANKS = W("横綱 大関 大関 関脇 小結")
STABLES = W("佐渡ケ嶽部屋 二所ノ関部屋 宮城野部屋 伊勢ケ浜部屋 九重部屋 高砂部屋 春日野部屋 玉ノ井部屋 時津風部屋 出羽海部屋")
BASHO = W("初場所 春場所 夏場所 名古屋場所 秋場所 九州場所")
KIMARITE = W("寄り切り 押し出し 突き落とし 上手投げ はたき込み 送り出し 寄り倒し 小手投げ 下手投げ 引き落とし 押し倒し")
STAGE_HEAD = W("ダンディ ジョニー キャプテン ミスター ハリー ビッグ ジャンボ マッスル サンシャイン ゴールデン ハイパー ミラクル")
STAGE_KANA = W("やすこ みやぞん ぺこり ゆうぞう まさお けんじろう ぴろき よしみ ちゃんぽん ごっつ たけぞう ひろみん のりお "
               "ナダル ゴリ ケンドー タカ トシ ノブ カズ ヒコ ヤス ミキ ポンタ ザキ ケンタ ジロー サンペイ")
MONO_ARTISTS = W("MAYA RINA KOTA HIKARU SORA YUNA REN MIRAI NANA SHUN KEITO ERIKA MIYU RIO JUNO AYAKA Aimi Yuri Hana "
                 "アイナ リサ ミレイ カノン ユナ レイナ セイラ ジュリ マナミ あいか みのり さえこ")
RAKUGO_HOUSE = W("三遊亭 桂 柳家 林家 春風亭 立川 笑福亭 古今亭 月亭 柳亭")
RAKUGO_NAME = W("小円 文吉 喬之助 正楽 朝太郎 志の吉 鶴丸 小梅 風柳 円蔵 文平 談吉 喜之助 小りん 福丸 吉弥 雀々 花緑 小蝶 竹丸")
KABUKI_HOUSE = W("市川 尾上 中村 松本 坂東 片岡 市村 澤村")
KABUKI_NAME = W("團之助 菊之丞 勘之丞 雀右衛門 右近 染之助 鴈十郎 橘太郎 猿弥 新悟 虎之介 梅枝 扇十郎 歌昇 芝翫")
MONKS = W("覚雲 玄了 慶祐 明空 慈海 道賢 宗円 義空 栄伝 了海 照雲 円心 空也坊 恵空")
# Horses, ships, stables, awards, companies and teams named like persons: never persons.
HORSE_HEAD = W("サクラ キタサン ゴールド メイショウ エア トウカイ マチカネ シゲル ダイワ スズカ アドマイヤ ナリタ")
HORSE_TAIL = W("ブライト スター ホープ ウイング ラッキー フラッシュ オーシャン リボン ジョージ マックス ルビー ボルト エース")
PERSON_COMPANIES = W("米ジョンソン・エンド・ジョンソン 米フォード・モーター 米マクドナルド 米ボーイング 米ケロッグ 米デル "
                     "米ヒューレット・パッカード 英ダイソン 英ロールス・ロイス 独ポルシェ 伊フェラーリ 伊ランボルギーニ")
PERSON_AWARDS = W("芥川賞 直木賞 沢村賞 ノーベル平和賞 ノーベル物理学賞 ノーベル文学賞")  # named after persons, awards all the same
NATIONALITY = {"viet": "ベトナム国籍", "chinese": "中国籍", "korean_kanji": "韓国籍", "korean_kata": "韓国籍", "kata": "米国籍"}

# ---------------------------------------------------------------- places (prefecture: cities/wards)
PREF_CITIES = {line.split(":")[0]: line.split(":")[1].split() for line in """北海道:札幌市北区 札幌市中央区 旭川市 函館市 帯広市
青森県:青森市 八戸市 弘前市
岩手県:盛岡市 一関市 山田町
宮城県:仙台市青葉区 仙台市泉区 石巻市
福島県:郡山市 いわき市 会津若松市
茨城県:水戸市 つくば市 日立市
栃木県:宇都宮市 小山市 日光市
群馬県:前橋市 高崎市 太田市
埼玉県:さいたま市浦和区 川口市 川越市 所沢市 越谷市
千葉県:千葉市花見川区 船橋市 柏市 松戸市 浦安市
東京都:世田谷区 杉並区 練馬区 足立区 新宿区 八王子市 町田市 府中市
神奈川県:横浜市港北区 横浜市青葉区 川崎市中原区 相模原市南区 藤沢市 横須賀市
新潟県:新潟市中央区 長岡市 上越市
石川県:金沢市 小松市 輪島市
長野県:長野市 松本市 上田市
静岡県:静岡市葵区 浜松市中央区 沼津市 富士市
愛知県:名古屋市中区 名古屋市千種区 豊田市 岡崎市 一宮市
京都府:京都市左京区 京都市伏見区 宇治市
大阪府:大阪市北区 大阪市住吉区 堺市堺区 豊中市 東大阪市 枚方市
兵庫県:神戸市中央区 神戸市灘区 姫路市 西宮市 尼崎市
広島県:広島市中区 広島市安佐南区 福山市 呉市
福岡県:福岡市博多区 福岡市早良区 北九州市小倉北区 久留米市
熊本県:熊本市中央区 八代市
沖縄県:那覇市 沖縄市 うるま市
秋田県:秋田市 横手市 大館市
山形県:山形市 鶴岡市 酒田市
山梨県:甲府市 富士吉田市
富山県:富山市 高岡市
福井県:福井市 敦賀市
岐阜県:岐阜市 大垣市 高山市
三重県:津市 四日市市 伊勢市
滋賀県:大津市 草津市 彦根市
奈良県:奈良市 橿原市 生駒市
和歌山県:和歌山市 田辺市
鳥取県:鳥取市 米子市
島根県:松江市 出雲市
岡山県:岡山市北区 倉敷市 津山市
山口県:山口市 下関市 宇部市
徳島県:徳島市 阿南市
香川県:高松市 丸亀市
愛媛県:松山市 今治市 新居浜市
高知県:高知市 南国市
佐賀県:佐賀市 唐津市
長崎県:長崎市 佐世保市 諫早市
大分県:大分市 別府市 中津市
宮崎県:宮崎市 都城市 延岡市
鹿児島県:鹿児島市 霧島市 鹿屋市""".splitlines()}
PREFS = list(PREF_CITIES)
REGION = {p: r for line in ["北日本:北海道 青森県 岩手県 宮城県 福島県 秋田県 山形県",
                            "関東甲信:茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 長野県 山梨県", "北陸:新潟県 石川県 富山県 福井県",
                            "東海:静岡県 愛知県 岐阜県 三重県", "近畿:京都府 大阪府 兵庫県 滋賀県 奈良県 和歌山県",
                            "中国地方:広島県 鳥取県 島根県 岡山県 山口県", "四国:徳島県 香川県 愛媛県 高知県",
                            "九州:福岡県 熊本県 佐賀県 長崎県 大分県 宮崎県 鹿児島県", "沖縄地方:沖縄県"]
          for r, ps in [line.split(":")] for p in ps.split()}
FOREIGN_CITIES = W("ロンドン パリ ニューヨーク ソウル 上海 シドニー ベルリン")
WORKPLACES = W("病院 介護施設 市役所 工場 ホテル 飲食店 保育園 物流倉庫 スーパー 建設会社")
OCCUPATIONS = W("会社員 会社員 会社員 自営業 無職 パート従業員 公務員 看護師 保育士 中学校教諭 農業 漁業 "
                "タクシー運転手 会社役員 美容師 調理師 介護職員 建設作業員 トラック運転手 団体職員 飲食店経営")
# Capitals named like their prefecture and designated cities are written without the prefecture.
BARE_CITIES = W("札幌市 仙台市 さいたま市 千葉市 横浜市 川崎市 相模原市 新潟市 静岡市 浜松市 名古屋市 京都市 大阪市 堺市 "
                "神戸市 広島市 福岡市 北九州市 熊本市 青森市 盛岡市 水戸市 宇都宮市 前橋市 長野市 金沢市 那覇市 秋田市 山形市 "
                "富山市 福井市 岐阜市 奈良市 和歌山市 鳥取市 岡山市 山口市 徳島市 高知市 佐賀市 長崎市 大分市 宮崎市 鹿児島市")
TOWN_BASES = W("緑 桜 旭 栄 若葉 中央 本 新 寿 曙 日吉 青葉 泉 春日 松原 高砂 住吉 八幡 宮前 平和 富士見 朝日 東雲 千歳 港 錦 "
               "白山 元 幸 弥生 昭和 大手 末広 柳 梅ケ丘 稲荷 天神 城山 桃山 花園 美原 光 清水 大宮 本郷 北野 南台 若松 緑ケ丘 "
               "常盤 宮本 霞ケ丘 富岡 青山 桜木 御幸 鶴見 八千代 高見 浜 岩崎 山手 みどり ひばりが丘 つつじが丘")
FOREIGN_OCCUPATIONS = W("技能実習生 留学生 会社員 飲食店従業員 英会話講師")

# ---------------------------------------------------------------- distractor material (never persons)
BASEBALL = W("阪神タイガース 読売ジャイアンツ 横浜DeNAベイスターズ 広島東洋カープ 中日ドラゴンズ 福岡ソフトバンクホークス "
             "北海道日本ハムファイターズ")
SOCCER = W("鹿島アントラーズ 浦和レッズ 川崎フロンターレ 横浜F・マリノス ガンバ大阪 ヴィッセル神戸 名古屋グランパス")
FAMOUS_COMPANIES = W("トヨタ自動車 本田技研工業 松下電器 ヤマハ ディズニー 豊田自動織機 ミキモト")
WORKS = W("風の向こう側 夜明けのカルテ 青い約束 さよならの代わりに 星降る町の探偵 ひだまり食堂 海辺のピアニスト 雪解けの駅 "
          "最後の一球")
ANIME = W("星降る町の探偵 ひだまり食堂 名探偵コナン ドラえもん 宇宙船ポコタ号")
CLASSICS = W("源氏物語 枕草子 奥の細道 平家物語")  # titles of works, never persons
CHARACTERS = W("星野ルナ 天城ハヤト 黒崎レン 小鳥遊ヒカリ ポコタ ニャン吉 ドラえもん 江戸川コナン")
COMBOS = W("ライトニング ぽんかん シャインマスカット 夜更かし 東西南北 マンゴスチン")
ANIMALS = W("タロウ モモ ハナ コタロウ リンリン ソラ")
UNIVS = W("東京大 京都大 大阪大 東北大 名古屋大 九州大 北海道大 筑波大 慶応大 早稲田大 広島大 神戸大")
INSTITUTES = W("理化学研究所 国立がん研究センター 海洋研究開発機構 産業技術総合研究所 国立天文台 宇宙航空研究開発機構")
FIELDS = W("分子生物学 地震学 天文学 脳科学 公衆衛生学 経済学 社会学 植物生理学 材料工学 考古学 労働経済学")
PARTIES = W("自民党 立憲民主党 公明党 日本維新の会 国民民主党 共産党")
MINISTERS = W("官房長官 外相 財務相 防衛相 経済産業相 厚生労働相 文部科学相 国土交通相 農林水産相 環境相 デジタル相")
COURTS = W("東京地裁 大阪地裁 横浜地裁 名古屋地裁 福岡地裁 札幌地裁 仙台地裁 神戸地裁 さいたま地裁 千葉地裁 京都地裁 広島地裁")
# country, short form used before titles ("スミス米大統領"), titles, name kinds, capital
COUNTRIES = [("米国", "米", W("大統領 副大統領 国務長官"), ["kata:en", "initials"], "ワシントン"),
             ("英国", "英", W("首相 外相"), ["kata:en"], "ロンドン"), ("フランス", "仏", W("大統領 首相"), ["kata:fr"], "パリ"),
             ("ドイツ", "独", W("首相 外相"), ["kata:de"], "ベルリン"), ("イタリア", "伊", W("首相"), ["kata:it"], "ローマ"),
             ("ロシア", "露", W("大統領 外相"), ["kata:ru"], "モスクワ"), ("中国", "中国", W("国家主席 首相 外相"), ["chinese"], "北京"),
             ("韓国", "韓国", W("大統領 首相 外相"), ["korean_kanji", "korean_kata"], "ソウル"),
             ("台湾", "台湾", W("総統 行政院長"), ["chinese"], "台北"), ("ベトナム", "ベトナム", W("首相 国家主席"), ["viet"], "ハノイ"),
             ("ブラジル", "ブラジル", W("大統領"), ["kata:pt"], "ブラジリア")]

# ---------------------------------------------------------------- clause material
Q_CIVIL = ["本当に驚いた", "まさか自分が選ばれるとは思わなかった", "地域の皆さんに感謝したい", "これからも続けていきたい",
           "子どもたちに喜んでもらえたらうれしい", "支えてくれた家族のおかげ", "まだ信じられない"]
Q_WITNESS = ["まさか近所でこんなことが起きるとは", "怖くて足が震えた", "普段は静かな場所なのに", "大きな音がして外に出た",
             "本当にびっくりした", "あっという間の出来事だった"]
Q_ADMIT = ["間違いありません", "申し訳ないことをした", "魔が差した", "生活費が欲しかった"]
Q_DENY = ["覚えていない", "自分はやっていない", "身に覚えがない"]
Q_CRITIC = ["説明が不十分だ", "国民の声を無視している", "到底納得できない", "責任の所在があいまいだ"]
Q_POLITICS = ["国民の理解を得られるよう丁寧に説明したい", "スピード感を持って対応する", "重く受け止めている", "引き続き緊張感を持って取り組む",
              "地域の声をしっかり聞いて判断したい", "選択肢を排除せずに検討する"]
Q_LOCAL = ["地域の宝として大切にしたい", "市としても支援していきたい", "心から感謝申し上げたい", "元気に長生きしてほしい"]
Q_SPORTS = ["チーム全員でつかんだ勝利だ", "次の試合も全力で戦う", "悔しいが、切り替えたい", "最高の気分です", "応援してくれた皆さんのおかげ"]
Q_EXPERT = ["早めの対策が必要だ", "長期的な視点で見守る必要がある", "背景には深刻な人手不足がある", "社会全体で支える仕組みが欠かせない",
            "今後の動向を注視すべきだ", "過度に心配する必要はない"]
Q_SCIENCE = ["謎の解明に一歩近づいた", "今後はさらに詳しく調べたい", "予想外の結果に驚いた", "社会の役に立つ成果にしたい"]
Q_SOLO = ["最高の気分です", "自分のプレーができた", "応援してくれた皆さんのおかげ", "まだまだ強くなれる"]
Q_COACH = ["よく粘ってくれた", "期待に応える活躍だった", "若手の成長が大きい", "持ち味を存分に発揮した"]
Q_EXEC = ["社員一丸となって取り組む", "成長の柱に育てたい", "厳しい環境が続くが、挑戦を続ける", "顧客の期待に応えたい"]
Q_ARTS = ["多くの人に見てもらいたい", "夢のような時間でした", "役と向き合う毎日だった", "ファンの皆さんに恩返ししたい"]
POL_TOPICS = W("物価高対策 防衛費の増額 少子化対策 衆院解散の時期 被災地の復興支援 政治資金の問題 賃上げ エネルギー政策 児童手当の拡充")
INTL_TOPICS = W("貿易問題 安全保障 気候変動対策 経済協力 ウクライナ情勢 核軍縮 半導体の供給網")
CRIME_ACTS = ["酒を飲んだ状態で乗用車を運転した", "{v}の顔を殴るなどして、けがをさせた", "{v}の住宅に侵入し、現金約{m}万円を盗んだ",
              "{v}から現金{m}万円をだまし取った", "勤務先の会社の口座から約{m}万円を着服した", "無免許で乗用車を運転した",
              "{v}に刃物を示して「金を出せ」と脅した", "特殊詐欺の受け子として、{v}からキャッシュカードを受け取った",
              "空き家に火をつけた", "交通事故を起こしたのに救護せずに逃げた", "{v}の自転車を盗んだ"]
CHARGES = W("窃盗 詐欺 傷害 強盗 業務上横領 殺人未遂 覚醒剤取締法違反 現住建造物等放火")
INJURIES = ["頭を強く打ち、死亡した", "足の骨を折る重傷を負った", "軽いけがをした", "意識不明の重体となっている",
            "病院に運ばれたが、まもなく死亡が確認された", "腕などに軽いけがをした"]
VEHICLES = W("乗用車 軽乗用車 トラック オートバイ 自転車 路線バス 原付きバイク")


def hira(kata):  # katakana reading -> hiragana, for Japanese readings like "（やまだ・たろう）"
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kata)


@dataclass
class Name:
    full: str      # fullest written form
    short: str     # form used for later mentions and surname-only mentions
    reading: str   # reading for parentheses, "" when none
    kind: str
    male: bool = True


class Gen:
    """All randomness of one split: a seeded Random plus seeded Faker instances (never global state)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ja, self.en = Faker("ja_JP"), Faker("en_US")
        self.ja.seed_instance(seed)
        self.en.seed_instance(seed)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def weighted(self, weights):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def num(self, lo, hi):
        return self.rng.randint(lo, hi)

    def day(self, precise=False, plain=False):
        """A news date; clock times only for incidents, games and announcements are dated by day."""
        d, h = self.num(1, 30), self.num(1, 11)
        days = [f"{d}日", f"{d}日", f"今月{d}日", f"先月{d}日"] + [f"{d}日午前", f"{d}日午後"] * (not plain)
        return self.pick(days + [f"{d}日夜", f"{d}日未明", f"{d}日午後{h}時ごろ", f"{d}日午前{h}時半ごろ"] * precise)

    def locale(self):
        pref = self.pick(PREFS)
        return pref, self.pick(PREF_CITIES[pref])

    def city(self, pref, city):
        """How news writes a city: '横浜市港北区', '青森市' bare; '埼玉県川口市' with the prefecture (mostly)."""
        bare = any(city.startswith(b) for b in BARE_CITIES) or pref == "東京都" and city.endswith("区") and self.chance(0.3)
        return city if bare and self.chance(0.92) or self.chance(0.08) else pref + city

    def town(self):
        """A town or district name: faker's (filtered) or composed the way Japanese ones are ('緑町', '東桜台', '中野')."""
        if self.chance(0.3):
            town = self.ja.town()
            while len(town) > 5 or any("ァ" <= ch <= "ヶ" for ch in town) or town.endswith(("公園", "外苑", "駅")):
                town = self.ja.town()  # skip faker's building-like "虎ノ門ヒルズ森タワー" and parks
            return town
        base = self.pick(TOWN_BASES) if self.chance(0.55) else self.surname()[0]  # many towns share a surname's name
        pre = self.pick(W("東 西 南 北 上 下 新 中")) if len(base) <= 2 and self.chance(0.15) else ""
        suffix = "町" if base in ("本", "新", "元") else self.weighted({"町": 45, "": 25, "台": 8, "が丘": 6, "本町": 4, "新町": 4})
        return pre + base + suffix

    def address(self, levels=None, home=None):
        """A residence at a random level (prefecture, city/ward, town, street): (text, level, pref, city)."""
        pref, city = home or self.locale()
        level = self.weighted(levels or ADDRESS_LEVEL_WEIGHTS)
        if level == "pref":
            return pref, level, pref, city
        if level == "city":
            return self.city(pref, city), level, pref, city
        head = self.city(pref, city) if self.chance(0.75) else pref + city
        if city.startswith("札幌市") and self.chance(0.5):  # Sapporo's grid: "北24条西5丁目"
            town = f"{self.pick(['北', '南'])}{self.num(1, 40)}条{self.pick(['東', '西'])}"
        else:
            town = self.town()
        if level == "town":
            return head + town, level, pref, city
        c, b, g = self.num(1, 9), self.num(1, 30), self.num(1, 25)  # small block numbers, as real ones are
        return self.pick([f"{head}{town}{c}丁目{b}番{g}号", f"{head}{town}{c}の{b}の{g}", f"{head}{town}{c}丁目",
                          f"{head}{town}{c}丁目{b}の{g}", f"{head}{town}{c}丁目{b}番", f"{head}{town}{self.num(1, 999)}番地",
                          f"{head}{town}{c}－{b}－{g}"]), level, pref, city

    def police(self, pref, city):
        force = "警視庁" if pref == "東京都" else pref + "警"
        base = city.split("市")[-1] if city.endswith("区") and "市" in city else city
        return force + self.pick(["", base[:-1] + "署"]) if len(base) > 2 else force

    def surname(self, min_len=1):
        """A surname and its reading from names_ja.tsv, weighted by how common it is."""
        while True:
            sur = self.rng.choices(VOCAB_SUR, cum_weights=VOCAB_SUR_CUM)[0]
            if len(sur[0]) >= min_len:
                return sur

    def jp_name(self, hist=False, male=None):
        male = self.chance(0.5) if male is None else male
        source = self.rng.random()
        if source < 0.12:  # faker pairs carry the matching reading
            s = self.ja.last_name_pair()
            g = self.ja.first_name_male_pair() if male else self.ja.first_name_female_pair()
            s, g = (s[0], hira(s[1])), (g[0], hira(g[1]))
        elif source < 0.2:
            s, g = self.pick(JP_SUR_EXTRA), self.pick(JP_GIVEN_M if male else JP_GIVEN_F)
        else:  # names_ja.tsv: about 2,000 surnames and 2,700 given names
            s, g = self.surname(), self.pick(VOCAB_GIVEN_M if male else VOCAB_GIVEN_F)
            if not male and len(g[1]) <= 3 and self.chance(0.06):
                g = (g[1], g[1])  # some women's names are written in hiragana: "さくら", "ひかり"
        if hist:
            g = (self.pick(HIST_GIVEN), "")
        return Name(s[0] + g[0], s[0], f"{s[1]}・{g[1]}" if g[1] else "", "hist" if hist else "jp")

    def stage_name(self, kind):
        """A ring name, stage name or single name: the whole of how news names that person."""
        r = self
        if kind == "sumo":
            head = r.pick(SUMO_HEAD)
            tails = [t for t in SUMO_TAIL if not (head[-1] in "ノ乃の" and t[0] in "ノ乃の") and t != head]
            return head + r.pick(tails)
        if kind == "comedian":
            return r.pick([r.pick(STAGE_KANA), r.pick(STAGE_HEAD) + r.surname(2)[0], r.surname(2)[0] + r.pick(W("ボーイ マン 丸 太夫"))])
        if kind == "mono_artist":
            return r.pick(MONO_ARTISTS)
        if kind == "rakugo":
            return r.pick(RAKUGO_HOUSE) + r.pick(RAKUGO_NAME)
        if kind == "kabuki":
            return r.pick(KABUKI_HOUSE) + r.pick(KABUKI_NAME)
        if kind == "monk":
            return r.pick(MONKS)
        if kind == "pen":  # a pen name in hiragana, from a surname's and a given name's readings
            return r.surname(2)[1] + r.pick(VOCAB_GIVEN_M + VOCAB_GIVEN_F)[1]
        return r.pick(MONONYMS)

    def name(self, kind, male=None):
        """A name of one style; male=None means either gender (only team sports need to choose)."""
        r = self
        male = r.chance(0.5) if male is None else male
        if kind in ("jp", "hist"):
            return self.jp_name(hist=kind == "hist", male=male or kind == "hist")
        if kind.startswith("kata") or kind == "initials":  # "kata:fr" asks for a French name, "kata_given" for a given name
            origin = kind.split(":")[1] if ":" in kind else r.weighted(KATA_ORIGINS)
            m_given, f_given, surs = KATA[origin]
            kata_given, sur = m_given if male else f_given, r.pick(surs)
            if origin == "ru" and not male:  # Russian women's surnames end in -ワ: ペトロフ -> ペトロワ
                sur = sur[:-1] + "ワ"
        if kind.startswith("kata:") or kind == "kata":
            return Name(f"{r.pick(kata_given)}・{sur}", sur, "", "kata")
        if kind == "initials":  # "J・K・ローリング" or "ジョン・F・スミス", sometimes full-width letters
            a, b = r.pick(INITIALS), r.pick(INITIALS)
            if r.chance(0.25):
                a, b = chr(ord(a) + 0xFEE0), chr(ord(b) + 0xFEE0)
            full = f"{a}・{b}・{sur}" if r.chance(0.5) else f"{r.pick(kata_given)}・{b}・{sur}"
            return Name(full, sur, "", kind)
        if kind == "latin":
            sur = self.en.last_name()
            return Name(f"{self.en.first_name_male() if male else self.en.first_name_female()} {sur}", sur, "", kind)
        if kind in ("mononym", "sumo", "comedian", "mono_artist", "rakugo", "kabuki", "monk", "pen"):
            m = self.stage_name(kind)
            return Name(m, m, "", kind)
        if kind == "kata_given":  # a foreign resident named by the given name alone: "マリアさん"
            m = r.pick(m_given if male else f_given)
            return Name(m, m, "", kind)
        if kind == "viet":
            full = f"{r.pick(VIET_SUR)}・{r.pick(VIET_GIVEN[not male])}"
            return Name(full, full, "", kind)  # Vietnamese names are repeated in full in news
        sur_list, given_lists = (CN_SUR, CN_GIVEN) if kind == "chinese" else (KR_SUR, KR_GIVEN)
        (s, sr), (g, gr) = r.pick(sur_list), r.pick(given_lists[not male])
        if kind == "korean_kata":
            return Name(f"{sr}・{gr}", sr, "", kind)
        return Name(s + g, s, f"{sr}・{gr}", kind)

    def company(self, famous=True):
        """A company or brand, often carrying a surname: never a person. famous=False where a made-up HQ follows."""
        sur = self.ja.last_name()
        return self.pick([self.ja.company(), f"{sur}{self.pick(W('商事 製作所 工務店 薬品 電機 酒造 運輸'))}",
                          f"{self.pick(KATA['en'][2])}・{self.pick(W('ホールディングス ジャパン フーズ'))}",
                          f"{sur}{self.pick(W('ホールディングス 建設 食品'))}"] + [self.pick(FAMOUS_COMPANIES)] * famous)

    def place_with_surname(self):  # "岩手県山田町", "松本市大谷地区": places that look like surnames
        pref, city = self.locale()
        sur = self.pick(JP_SUR_EXTRA)[0] if self.chance(0.5) else self.ja.last_name()
        return self.pick([f"{self.city(pref, city)}{sur}町", f"{self.city(pref, city)}{sur}地区", f"{pref}{city}の{sur}地区", "岩手県山田町"])


# ---------------------------------------------------------------- one text and its persons
class Text:
    """A text under construction: the persons it names, with their first mentions, and phenomenon tags."""

    def __init__(self, g):
        self.g, self.names, self.persons, self.tags, self.quotes = g, [], [], set(), []
        self.age_fmt = g.pick(["({})", "（{}）"])  # one style per text, as an editor would keep it

    def who(self, kinds, male=None, lone=False):
        """A fresh name whose forms cannot be confused with another person's in this text.

        lone=True asks for a name with a surname of two characters or more, to be written by the surname alone."""
        while True:
            kind = self.g.weighted(kinds) if isinstance(kinds, dict) else self.g.pick(kinds)
            sex = self.g.chance(0.5) if male is None else male
            n = self.g.name(kind, sex)
            if lone and (n.short == n.full or len(n.short) < 2 or n.short in LONE_STOP):
                continue
            if not any(n.short in u.full or u.short in n.full for u in self.names):
                n.male = sex
                self.names.append(n)
                self.tags.add("kind:" + n.kind)
                return n

    def age(self, lo=20, hi=85):
        self.tags.add("mention:age")
        return self.age_fmt.format(self.g.num(lo, hi))

    def add(self, name, first, address=None, level=None):
        self.persons.append({"name": name, "first": first, "address": address})
        self.tags.add("addr:" + level if address else "person:no_address")


# Residence shapes of news ({A} address, {O} occupation, {N} name, {h} honorific, {a} age, {P} birthplace)
RES_SHAPES = [("res:no", "{A}の{O}、{N}{h}{a}"), ("res:no", "{A}の{N}{h}{a}"), ("res:comma", "{A}、{O}{N}{h}{a}"),
              ("res:zaiju", "{A}在住の{O}、{N}{h}{a}"), ("res:zaiju", "{A}在住の{N}{h}{a}"),
              ("res:sumu", "{A}に住む{O}の{N}{h}{a}"), ("res:sumu", "{A}に住む{N}{h}{a}"),
              ("res:equals", "{O}{N}{h}{a}＝{A}＝"), ("res:paren", "{N}{h}（{A}）"), ("res:paren", "{N}{h}（{O}、{A}）"),
              ("res:birth+res", "{P}出身で{A}在住の{O}、{N}{h}{a}"), ("res:jusho", "住所・{A}、{O}、{N}{h}{a}"),
              ("res:kurasu", "{A}で暮らす{N}{h}{a}"), ("res:no", "{A}の{O}、{N}{h}{a}")]
# Shapes without a residence; birthplace and workplace are places that must not become the address.
NORES_SHAPES = [("nores:plain", "{O}の{N}{h}{a}"), ("nores:plain", "{O}、{N}{h}{a}"), ("nores:plain", "{N}{h}{a}"),
                ("nores:occ_paren", "{N}{h}（{O}）"), ("nores:birthplace", "{P}出身の{O}、{N}{h}{a}"),
                ("nores:birthplace", "{P}出身の{N}{h}{a}"), ("nores:workplace", "{C}の{W}に勤める{N}{h}{a}"),
                ("nores:workplace", "{C}の{W}で働く{N}{h}{a}")]
FOREIGN_SHAPES = [("res:no", "{X}で{A}の{O}、{N}{h}{a}"), ("res:sumu", "{A}に住む{X}の{O}、{N}{h}{a}"),
                  ("nores:plain", "{X}の{O}、{N}{h}{a}")]
SUSPECT_ONLY = [("nores:jusho_futei", "住所不定、無職、{N}{h}{a}"), ("nores:jusho_futei", "住所不定、無職の{N}{h}{a}")]


CALM_LEVELS = {"pref": 2, "city": 7, "town": 2, "street": 1}   # residents in soft news: rarely a street address
POLICE_LEVELS = {"pref": 1, "city": 3, "town": 3, "street": 4}  # suspects: police releases are precise


def occupation(g, age, male, kind):
    """An occupation that fits the age and, for 主婦, the gender."""
    if kind in NATIONALITY:
        return g.pick(FOREIGN_OCCUPATIONS)
    if age < 23:
        return g.pick(W("大学生 専門学校生 アルバイト 会社員"))
    if age >= 68:
        return g.pick(W("無職 無職 農業 自営業 会社役員"))
    return g.pick(OCCUPATIONS + ["主婦"] * (not male) + ["アルバイト", "無職"])


def civ(t, hon="さん", ages=(20, 85), addr_p=None, kinds=None, lead="", child=False, occs=None, male=None, levels=None, home=None,
        abroad_p=0.0):
    """A private person (resident, victim, suspect, witness) in one of the news shapes. Returns (mention, ref).

    occs=[] leaves the occupation out; a lead like "現場近くに住む" or "近所の" never carries an address."""
    g = t.g
    n = t.who(kinds or CIVILIAN_KINDS, male)
    suspect = hon in ("容疑者", "被告")
    addr_p = (0.9 if suspect else 0.85) if addr_p is None else addr_p  # police releases and local news name the home
    age = g.num(*ages) if n.kind not in NATIONALITY else g.num(20, 45)
    if child:  # children get their own honorifics and school years
        age = g.num(3, 11)
        hon = "ちゃん" if age <= 6 else g.pick(["さん", "君" if n.male else "ちゃん"])
        occs = [g.pick(["保育園児", "幼稚園児"]) if age <= 6 else f"小学{age - 6}年"]
    rd_p = 0.5 if n.kind in ("chinese", "korean_kanji") else 0.12
    nm = n.full + (f"（{n.reading}）" if n.reading and g.chance(rd_p) else "")
    if nm != n.full:
        t.tags.add("mention:reading")
    levels = levels or (POLICE_LEVELS if suspect else CALM_LEVELS)
    addr, level, _, _ = (g.pick(FOREIGN_CITIES), "foreign", 0, 0) if g.chance(abroad_p) else g.address(levels, home)
    near = lead.endswith("住む") or lead.startswith("近所")
    has_addr = g.chance(addr_p) and not near
    foreign_shapes = n.kind in NATIONALITY and not child and occs != []  # "ベトナム国籍の技能実習生、…"
    pool = FOREIGN_SHAPES if foreign_shapes else RES_SHAPES + NORES_SHAPES + SUSPECT_ONLY * suspect
    shapes = [(tag, sh) for tag, sh in pool if tag.startswith("res") == has_addr and (occs != [] or "{O}" not in sh)
              and (suspect or tag != "res:jusho") and not (suspect and "paren" in tag)
              and not (level in ("pref", "foreign") and tag in ("res:jusho", "res:comma"))
              and not (level == "street" and tag == "res:paren") and not (near and tag != "nores:plain")
              and not ((child or age >= 68) and tag in ("nores:workplace", "nores:birthplace", "res:birth+res"))
              and not (has_addr and level == "foreign" and tag not in ("res:zaiju", "res:sumu", "res:birth+res"))]
    tag, shape = g.pick(shapes)
    a = t.age_fmt.format(age) if (g.chance(0.8) or child) and "（" not in shape else ""
    pl, cl = g.locale()
    birth = g.pick([pl, "ブラジル", "米国", "中国", "韓国"]) if n.kind in NATIONALITY or n.kind == "kata" else pl
    mention = lead + shape.format(A=addr, O=g.pick(occs) if occs else occupation(g, age, n.male, n.kind), N=nm, h=hon, a=a,
                                  C=g.city(pl, cl), P=birth, W=g.pick(WORKPLACES), X=NATIONALITY.get(n.kind, ""))
    t.tags.update([tag] + ["mention:age"] * bool(a) + ["mention:occupation"] * ("{O}" in shape) + ["nores:nearby"] * near)
    t.add(n.full, mention, addr if tag.startswith("res") else None, level)
    return mention, (n.full if n.kind == "viet" else n.short) + hon  # Vietnamese names are repeated in full


def titled(t, kinds, title, org="", joined=None, short_p=0.3, hon="氏", male=None, short_joined=True):
    """Someone named with a role: '横浜市の山田太郎市長', '山田首相' (surname only), '山田太郎・横浜市長'."""
    g = t.g
    n = t.who(kinds, male)
    joined = joined if joined is not None else org + title
    rd = f"（{n.reading}）" if n.reading and n.kind != "jp" and g.chance(0.5) else ""
    # the answer is the surname alone; real news does this often ("鈴木首相は"), so every scene's share is raised by half
    if n.short != n.full and g.chance(min(1.0, short_p * 1.5)) and n.short not in LONE_STOP:
        t.tags.add("mention:surname_only")
        mention = g.pick([f"{org}の{n.short}{title}"] + [f"{n.short}{joined}"] * short_joined if org else [f"{n.short}{title}"])
        t.add(n.short, mention)
    else:
        forms = [f"{org}の{n.full}{rd}{title}", f"{joined}の{n.full}{rd}{hon}"] if org else [f"{n.full}{rd}{title}"]
        if org and n.kind in ("jp", "chinese", "korean_kanji"):
            forms.append(f"{n.full}・{joined}")  # this middle dot separates name and title, it is not part of the name
        mention = g.pick(forms)
        t.add(n.full, mention)
    t.tags.add("mention:title")
    return mention, f"{n.short}{g.pick([title, title, '氏'])}"


def named(t, fmt, kinds=None, male=None):
    """A person whose first mention is fmt with {N} replaced by the full name."""
    n = t.who(kinds or {"jp": 1}, male)
    t.add(n.full, mention := fmt.format(N=n.full))
    return mention


def mayor_of(t, pref, city, short_p=0.3):
    """'高崎市の木村太郎市長', '木村高崎市長', '木村太郎・高崎市長': the city is his office, not his home."""
    return titled(t, {"jp": 1}, city[-1] + "長", org=t.g.city(pref, city), joined=city + "長", short_p=short_p)  # 市長, 区長, 町長


def anon(t):
    """An unnamed person: looks like a mention but is never extracted."""
    g = t.g
    t.tags.add("dis:anonymous")
    c = g.city(*g.locale())
    return g.pick([f"近くに住む{g.num(6, 9)}0代の女性", f"知人の男性{t.age(20, 70)}", f"{c}の{g.num(6, 9)}0代の女性",
                   f"会社員の男性{t.age(20, 65)}", f"同じ職場の{g.num(2, 5)}0代の女性", f"{c}の会社員Aさん{t.age(20, 65)}",
                   f"面識のない{g.num(2, 5)}0代の男性", "男子高校生", f"アルバイトの少年{t.age(16, 19)}", "80代の女性"])


def q(lst, t):
    """A quote, never the same one twice in a text."""
    fresh = [x for x in lst if x not in t.quotes] or lst
    t.quotes.append(quote := t.g.pick(fresh))
    return "「" + quote + "」"


def say(t):
    return t.g.pick(["と話した", "と述べた", "と語った", "と話している", "とコメントした"])


def fill(t, n, extras, sents, cap=4):
    """Add sentences, each introducing one more person, until the text has n persons (no extra twice)."""
    pool = list(extras)
    while len(t.persons) < n and len(sents) < cap and pool:
        sents.append(pool.pop(t.g.rng.randrange(len(pool)))(t))
    return sents


def ex_witness(t):
    lead = t.g.pick(["現場近くに住む", "目撃した", "通報した", "近所の"])
    m, _ = civ(t, lead=lead, addr_p=0.7)
    t.tags.add("role:witness")
    return f"{m}は{q(Q_WITNESS, t)}{say(t)}。"


def ex_expert(t):  # commentary on society and politics comes from universities, not labs
    m, _ = expert(t, t.g.pick(W("政治学 経済学 社会学 労働経済学 行政学 国際関係論")), labs=False)
    return f"{m}は{q(Q_EXPERT, t)}{t.g.pick(['と指摘している', 'と分析する', 'と話している'])}。"


def ex_critic(t):
    m, _ = titled(t, {"jp": 1}, t.g.pick(W("代表 幹事長 国対委員長")), org=t.g.pick(PARTIES), short_p=0.3)
    return f"{t.g.pick(['これに対し、', '一方、', ''])}{m}は{q(Q_CRITIC, t)}と批判した。"


def expert(t, field=None, labs=True):
    g = t.g
    n = t.who(EXPERT_KINDS)
    univ, field = g.pick(UNIVS), field or g.pick(FIELDS)
    if n.kind in ("kata", "latin") and g.chance(0.6):
        univ = g.pick(["米スタンフォード大", "米マサチューセッツ工科大", "英オックスフォード大", "独ミュンヘン工科大"])
    forms = [f"{univ}の{n.full}教授（{field}）", f"{univ}の{n.full}准教授", f"{field}に詳しい{univ}の{n.full}教授",
             f"{univ}教授の{n.full}さん", f"{field}が専門の{univ}の{n.full}特任教授"]
    forms += [f"{g.pick(INSTITUTES)}の{n.full}主任研究員"] * labs + [f"{n.full}・{univ}教授"] * ("・" not in n.full and " " not in n.full)
    form = g.pick(forms)
    t.add(n.full, form)
    t.tags.update({"role:expert", "mention:title"})
    return form, f"{n.short}{g.pick(['教授', '氏'])}" if "教授" in form else f"{n.short}氏"


def athlete(t, team=None, male=True, kinds=None):
    """A player, with or without the team in the mention. Team sports here are men's leagues."""
    g = t.g
    n = t.who(kinds or TEAM_KINDS, male)
    pos = g.pick(W("選手 選手 投手 内野手 外野手")) if team in BASEBALL else "選手"
    form = g.pick([f"{n.full}{pos}", f"{n.full}{pos}{t.age(18, 38)}"])
    if team:
        form = g.pick([f"{team}の{n.full}{pos}", f"{n.full}{pos}（{team}）", f"{team}の{n.full}{pos}{t.age(18, 38)}"]
                      + [f"{team}の新外国人、{n.full}選手"] * (n.kind in ("kata", "mononym")))
    t.add(n.full, form)
    t.tags.add("role:athlete")
    return form, f"{n.short}{pos}"


def artist(t, roles=None):
    g = t.g
    n = t.who({"jp": 88, "kata": 6, "initials": 6} if roles else ARTIST_KINDS)
    a = t.age(20, 75) if g.chance(0.6) else ""
    if n.kind == "korean_kata":
        form = f"韓国の人気グループ「{g.pick(W('STARLIGHT NOVA PRISM BLUEMOON'))}」のメンバー、{n.full}さん"
        t.tags.add("dis:org")
    elif n.kind != "jp":  # "米歌手の", "英俳優の": foreign artists carry a country prefix
        form = f"{g.pick(['米', '英', '仏', ''])}{g.pick(roles or W('歌手 俳優 ピアニスト バイオリニスト'))}の{n.full}さん{a}"
    elif g.chance(0.12) and not roles:
        form = f"お笑いコンビ「{g.pick(COMBOS)}」の{n.full}さん{a}"
        t.tags.add("dis:org")
    else:
        role = g.pick(roles or W("俳優 歌手 タレント 声優 ピアニスト 漫画家 落語家 バイオリニスト"))
        form = g.pick([f"{role}の{n.full}さん{a}", f"{role}、{n.full}さん{a}", f"{role}{n.full}さん{a}"])
    t.add(n.full, form)
    t.tags.add("role:artist")
    return form, f"{n.short}さん"


# ---------------------------------------------------------------- scenes with persons: scene(t, n) -> sentences
def crime(t, n):
    g = t.g
    t.tags.add("topic:crime")
    pref, city = g.locale()
    pol = g.police(pref, city)
    pol2 = "同署" if pol.endswith("署") else pol if pol == "警視庁" else pol[-2:]  # "同署", "県警": as papers refer back
    sus, sref = civ(t, hon="容疑者", ages=(19, 79))
    if n >= 2 and g.chance(0.3):  # "AとBの2人を逮捕": both are persons
        sus, sref = f"{sus}と、{civ(t, hon='容疑者', ages=(19, 79))[0]}の2人", "2人"
    act = g.pick(CRIME_ACTS)
    if "{v}" in act:
        act = act.replace("{v}", civ(t, ages=(25, 92))[0] if n >= 2 and g.chance(0.75) else anon(t))
    act, day = act.replace("{m}", str(g.num(3, 900))), g.day(precise=True)
    s = [g.pick([f"{pol}は{day}、{act}疑いで、{sus}を逮捕した。", f"{act}として、{pol}は{day}、{sus}を逮捕した。",
                 f"{day}、{act}疑いで{sus}が{pol}に逮捕された。", f"{pol}は{day}、{sus}を{act}疑いで逮捕したと発表した。"])]
    place = f"{g.city(pref, city)}の{g.pick(W('路上 駐車場 コンビニエンスストア 住宅街 駅前 公園'))}"
    s.append(g.pick([f"{pol2}によると、{sref}は{q(Q_ADMIT, t)}と容疑を認めている。", f"{sref}は容疑を認めているという。",
                     f"調べに対し、{sref}は{q(Q_DENY, t)}と容疑を否認しているという。", f"{pol2}によると、現場は{place}。",
                     f"{pol2}は、{sref}が同様の事件に関わった可能性もあるとみて調べている。"]))
    if "現場は" in s[-1]:
        t.tags.add("nores:event_place")
    accomplice = [] if sref == "2人" else [lambda t: f"{pol2}は、一緒にいた{civ(t, hon='容疑者', ages=(19, 60))[0]}も同じ疑いで逮捕した。"]
    return fill(t, n, [ex_witness] + accomplice, s)


def trial(t, n):
    g = t.g
    t.tags.add("topic:crime")
    d, dref = civ(t, hon="被告", ages=(20, 80))
    court, charge, y = g.pick(COURTS), g.pick(CHARGES), g.num(2, 15)
    verdict = g.pick([f"懲役{y}年（求刑懲役{y + g.num(1, 4)}年）", f"懲役{g.num(1, 3)}年、執行猶予{g.num(3, 5)}年", "無罪", f"罰金{g.num(3, 90)}万円"])
    first = g.chance(0.3)  # first hearing or verdict
    s = [f"{charge}の罪に問われた{d}の初公判が{g.day()}、{court}で開かれた。" if first else
         g.pick([f"{charge}の罪に問われた{d}の判決で、{court}は{g.day()}、{verdict}を言い渡した。",
                 f"{court}は{g.day()}、{charge}の罪に問われた{d}に{verdict}の判決を言い渡した。"])]
    if first:
        s.append(g.pick([f"{dref}は起訴内容を認めた。", f"{dref}は「間違いありません」と起訴内容を認めた。", f"{dref}側は無罪を主張した。"]))
    elif n >= 2:
        judge = titled(t, {"jp": 1}, "裁判長", short_p=0.2)[0]
        reasons = ["犯罪の証明が不十分だ", "合理的な疑いが残る"] if verdict == "無罪" else ["身勝手な犯行で、酌量の余地はない", "反省の態度を示している"]
        s.append(f"{judge}は{q(reasons, t)}と述べた。")
    else:
        s.append("検察側は控訴するかどうか検討する。" if verdict == "無罪" else
                 g.pick([f"{dref}側は即日控訴した。", f"{dref}の弁護人は「判決内容を精査して対応を検討する」とコメントした。"]))
    lawyer_q = ["公判で主張を尽くしたい", "被告の言い分を丁寧に訴えていく"] if first else ["主張が認められず残念だ", "判決を精査したい"]
    return fill(t, n, [lambda t: f"公判には{civ(t, addr_p=0.5)[0]}が証人として出廷した。",
                       lambda t: f"弁護人の{titled(t, {'jp': 1}, '弁護士', short_p=0)[0]}は{q(lawyer_q, t)}と話した。"], s)


def accident(t, n):
    g = t.g
    kind = g.pick(["crash", "walker", "pole", "fire", "mountain"])
    if kind == "fire":  # "〇〇さん方" is the person's home, so its place is a residence
        addr, level, pref, city = g.address()
        pol, n_ = g.police(pref, city), t.who(CIVILIAN_KINDS)
        age = g.num(30, 95)
        m = f"{addr}の{occupation(g, age, n_.male, n_.kind)}、{n_.full}さん{t.age_fmt.format(age)}方"
        t.add(n_.full, m, addr, level)
        t.tags.update({"res:kata", "topic:fire"})
        s = [f"{g.day(precise=True)}、{m}から出火し、木造2階建て住宅約{g.num(40, 200)}平方メートルが全焼した。",
             g.pick([f"焼け跡から1人の遺体が見つかり、{pol}は{n_.short}さんとみて身元の確認を進めている。",
                     f"{n_.short}さんと家族は逃げて無事だった。", f"{n_.short}さんが顔に軽いやけどを負った。"])]
        return fill(t, n, [ex_witness], s)
    pref, city = g.locale()
    c, pol = g.city(pref, city), g.police(pref, city)
    road = g.pick([f"国道{g.num(1, 499)}号", "県道", "市道の交差点", "交差点", "踏切"])
    v1, v2, day = g.pick(W("乗用車 軽乗用車 トラック 路線バス ワゴン車")), g.pick(W("乗用車 軽乗用車 オートバイ 原付きバイク")), g.day(precise=True)
    child = kind == "walker" and g.chance(0.3)
    m, ref = civ(t, ages=(18, 92), child=child)
    t.tags.update({"topic:accident", "nores:event_place"})
    s = [{"crash": f"{day}、{c}の{road}で、{v1}と{v2}が衝突する事故があり、{v2}を運転していた{m}が{g.pick(INJURIES)}。",
          "walker": f"{day}、{c}の{road}で、歩いて道路を横断していた{m}が{v1}にはねられ、{g.pick(INJURIES)}。",
          "pole": f"{day}、{c}の{road}で、{v2}が電柱に衝突し、運転していた{m}が{g.pick(INJURIES)}。",
          "mountain": f"{day}、{g.pick(W('槍ケ岳 穂高岳 谷川岳 八ケ岳 大山'))}で、登山中の{m}が滑落し、{g.pick(INJURIES)}。"}[kind]]
    if kind == "mountain":
        return fill(t, n, [lambda t: f"一緒に登っていた{civ(t, addr_p=0.5)[0]}にけがはなかった。"], s)
    if n == 1:
        s.append(g.pick([f"{pol}が事故の原因を調べている。", "現場は見通しのよい直線道路。", f"{pol}によると、{ref}は信号のない場所を渡っていた。"
                         if kind == "walker" else f"{pol}によると、{ref}は仕事から帰宅する途中だった。"]))
    driver = lambda t: f"{pol}は、{v1}を運転していた{civ(t, hon='容疑者', ages=(18, 85))[0]}を過失運転致傷の疑いで現行犯逮捕した。"  # noqa: E731
    passenger = lambda t: f"同乗していた{civ(t, addr_p=0.3, child=g.chance(0.3))[0]}も{g.pick(['軽いけがをした', '病院に運ばれた'])}。"  # noqa: E731
    return fill(t, n, [ex_witness] + {"crash": [driver, passenger], "walker": [driver], "pole": [passenger]}[kind], s)


def politics(t, n):
    g = t.g
    t.tags.add("topic:politics")
    pref, city = g.locale()
    topic, form, day = g.pick(POL_TOPICS), g.pick(["pm", "pm2", "party", "gov", "mayor", "diet"]), g.day()
    minister = lambda t: f"{titled(t, {'jp': 1}, g.pick(MINISTERS), short_p=0.3)[0]}も{day}の記者会見で{q(Q_POLITICS, t)}と述べた。"  # noqa: E731
    extras = [ex_critic, ex_expert, minister]
    if form in ("pm", "pm2"):
        pm, ref = titled(t, {"jp": 1}, "首相", short_p=0.5)
        if form == "pm2" and n >= 2:
            others = titled(t, {"jp": 1}, g.pick(MINISTERS), short_p=0.3)[0]
            if n >= 3 and g.chance(0.6):
                others += g.pick(["や", "、"]) + titled(t, {"jp": 1}, g.pick(MINISTERS), short_p=0.3)[0]
            s = [f"{pm}は{day}、首相官邸で{others}と会談し、{topic}について意見を交わした。"]
        else:
            s = [g.pick([f"{pm}は{day}、首相官邸で記者団の取材に応じ、{topic}について{q(Q_POLITICS, t)}と述べた。",
                         f"{topic}をめぐり、{pm}は{day}の衆院予算委員会で{q(Q_POLITICS, t)}と答弁した。"])]
    elif form == "party":
        m, ref = titled(t, {"jp": 1}, g.pick(W("幹事長 代表 政調会長 国対委員長")), org=g.pick(PARTIES), short_p=0.3)
        s = [f"{m}は{day}の記者会見で、{topic}に関し{q(Q_POLITICS, t)}と語った。"]
    elif form == "gov":
        m, ref = titled(t, {"jp": 1}, "知事", org=pref, short_p=0.35)
        plan = g.pick(["公立高校の授業料を独自に無償化する方針", "子どもの医療費助成を18歳まで広げる考え", "観光客向けの宿泊税を導入する方針", "災害時の備蓄倉庫を増やす計画"])
        s, extras = [f"{m}は{day}の定例記者会見で、{plan}を明らかにした。"], [ex_expert]
    elif form == "mayor":
        m, ref = mayor_of(t, pref, city)
        s, extras = [f"{m}は{day}、{g.pick(['定例会見', '地元の住民説明会', '記者会見'])}で、{topic}について{q(Q_POLITICS, t)}と述べた。"], [ex_expert]
    else:
        m, ref = titled(t, {"jp": 1}, g.pick(["衆院議員", "参院議員"]), short_p=0.0)
        district = f"{pref if pref == '北海道' else pref[:-1]}{g.num(1, 9)}区"  # "神奈川3区": a district, not a home
        m = f"{g.pick(PARTIES)}の{m}（{district}）" if "衆院" in m else f"{g.pick(PARTIES)}の{m}"
        s = [f"{m}は{day}、{g.city(pref, city)}で講演し、{topic}について{q(Q_POLITICS, t)}と述べた。"]
        t.tags.add("nores:event_place")
    t.tags.add("nores:office_place" if form in ("gov", "mayor") else "role:politician")
    if len(t.persons) >= n and g.chance(0.4):
        s.append(g.pick([f"{ref}は{q(Q_POLITICS, t)}と強調した。", f"{ref}は今後、関係者と協議する方針だ。"]))
    return fill(t, n, extras, s)


def leader(t, pre=""):
    """A foreign leader: '米国のジョン・スミス大統領', 'スミス米大統領', 'スミス元米大統領', '中国の王建華（ワン・ジエンホア）国家主席'."""
    g = t.g
    country, abbr, titles, kinds, cap = g.pick(COUNTRIES)
    title, n = g.pick(titles), t.who(kinds)
    rd = f"（{n.reading}）" if n.reading and g.chance(0.5) else ""
    if n.short != n.full and g.chance(0.5):
        m = g.pick([f"{n.short}{pre}{abbr}{title}", f"{country}の{n.short}{pre}{title}"])
        t.add(n.short, m)
        t.tags.add("mention:surname_only")
    else:
        m = g.pick([f"{country}の{n.full}{rd}{pre}{title}", f"{pre}{abbr}{title}の{n.full}{rd}氏"]
                   + [f"{n.full}{rd}{pre}{abbr}{title}"] * ("・" not in n.full))  # "王建華中国国家主席"
        t.add(n.full, m)
    t.tags.update({"role:politician", "mention:title"})
    return m, f"{n.short}{title}", cap, country


def international(t, n):
    g = t.g
    t.tags.add("topic:international")
    form = g.pick(["talk", "speech", "spokes", "visit", "death", "sns"])
    l1, r1, cap, country = leader(t, pre="元" if form == "death" else "")
    if form == "death":  # nobody else belongs in this line
        return [f"{g.pick(['ロイター通信', 'AP通信', '国営メディア'])}によると、{l1}が{g.day()}、死去した。{g.num(70, 99)}歳だった。"]
    if form == "talk" and n >= 2:
        s = [f"{l1}は{g.day()}、{cap}で{leader(t)[0]}と会談し、{g.pick(INTL_TOPICS)}について協議した。"]
    elif form == "visit" and n >= 2:
        s = [f"{titled(t, {'jp': 1}, '首相', short_p=0.5)[0]}は{g.day()}、来日中の{l1}と首相官邸で会談し、{g.pick(INTL_TOPICS)}で連携を確認した。"]
    elif form == "spokes" and n >= 2:
        other = g.pick([c for c in COUNTRIES if c[0] not in (country, "台湾")])  # another government comments on this leader
        sp = titled(t, other[3], "報道官", org=f"{other[0]}外務省", short_p=0.2)[0]
        s = [f"{sp}は{g.day()}の記者会見で、{l1}の{g.pick(['来日', '演説', '発言'])}について{q(Q_POLITICS, t)}と述べた。"]
    else:
        s = [g.pick([f"{l1}は{g.day()}、{cap}で演説し、{g.pick(INTL_TOPICS)}について{q(Q_POLITICS, t)}と述べた。",
                     f"{l1}は{g.day()}、自身のSNSに{q(Q_POLITICS, t)}と投稿した。",
                     f"{g.pick(INTL_TOPICS)}をめぐり、{l1}は{g.day()}、記者団に{q(Q_POLITICS, t)}と語った。"])]
    return fill(t, n, [ex_expert, lambda t: f"{r1}は{g.day()}、{leader(t)[0]}とも電話で協議した。"], s)


def economy(t, n):
    g = t.g
    comp, c = g.company(famous=False), g.city(*g.locale())
    t.tags.update({"dis:company", "topic:economy", "role:executive"})
    plan = g.pick(["来年春に新工場を稼働させる", f"国内で約{g.num(1, 9)}00人を新たに採用する", "電気自動車向けの部品事業に参入する",
                   f"主力商品を{g.num(2, 30)}年ぶりに値上げする", "東南アジアでの事業を拡大する", "希望退職者を募集する"])
    form = g.pick(["hq", "based", "succession", "product"])
    kinds = EXEC_KINDS
    if form == "succession" and n >= 2:
        comp = g.company()  # no place follows, so a real brand named after its founder fits here
        a, b = t.who(kinds), t.who(kinds)
        ma, mb = f"{a.full}社長{t.age(50, 75) if g.chance(0.5) else ''}", f"{b.full}{g.pick(W('専務 副社長 常務'))}"
        t.add(a.full, ma)
        t.add(b.full, mb)
        s = [f"{comp}は{g.day()}、{ma}が退任し、後任に{mb}が昇格する人事を発表した。", f"{b.short}氏は{q(Q_EXEC, t)}と抱負を語った。"]
    else:
        m, ref = titled(t, kinds, g.pick(W("社長 社長 会長 副社長")), org=comp, short_p=0.25, short_joined=False)
        t.tags.add("nores:company_place")
        if form == "product":
            product = g.pick(["新型の電気自動車", "低価格のスマートフォン", "地元産の果物を使った菓子", "高齢者向けの見守りサービス"])
            s = [f"{comp}（{c}）は{g.day()}、{product}を発売すると発表した。", f"{m}は{q(Q_EXEC, t)}{say(t)}。"]
        elif form == "based" and m.startswith(comp):
            s = [f"{c}に本社を置く{m}は{g.day()}、{plan}と明らかにした。"]
        else:
            s = [f"{m}は{g.day()}、{c}の本社で記者会見し、{plan}と発表した。"]
        if len(s) == 1 and g.chance(0.5):
            s.append(f"{ref}は{q(Q_EXEC, t)}{say(t)}。")
    rival = lambda t: f"同業の{g.ja.company()}の{named(t, '{N}社長', EXEC_KINDS)}も{q(Q_EXEC, t)}と話している。"  # noqa: E731
    return fill(t, n, [ex_expert, rival], s)


def sports(t, n):
    g = t.g
    t.tags.add("topic:sports")
    if g.chance(0.3):  # individual sports, any gender and nationality
        event = g.pick(W("女子ゴルフ 男子ゴルフ テニス 卓球 フィギュアスケート 柔道 競泳"))
        male = True if event.startswith("男子") else False if event.startswith("女子") else None
        a, ref = athlete(t, male=male, kinds=SOLO_KINDS)
        res = g.pick(["初優勝を飾った", "逆転で優勝した", "2連覇を達成した"])
        a = f"{g.pick(PREFS)}出身の{a}" if t.names[-1].kind == "jp" and g.chance(0.3) else a
        t.tags.update(["nores:birthplace"] * ("出身" in a))
        s = [g.pick([f"{event}の{g.pick(['国際大会', '全日本選手権', 'ツアー大会'])}は{g.day(plain=True)}、{g.city(*g.locale())}で行われ、{a}が{res}。",
                     f"{event}の{g.pick(['国際大会', '全日本選手権', 'ツアー大会'])}で、{a}が{g.day(plain=True)}、{res}。"])]
        if len(t.persons) < n or g.chance(0.4):
            s.append(f"{ref}は{q(Q_SOLO, t)}{g.pick(['と笑顔を見せた', 'と話した', 'と振り返った'])}。")
        return fill(t, n, [lambda t: f"{ref}を指導する{titled(t, {'jp': 1}, 'コーチ', short_p=0)[0]}は{q(Q_COACH, t)}とたたえた。",
                           lambda t: f"2位には{athlete(t, male=male)[0]}が入った。"], s, cap=3)
    t.tags.add("dis:team")
    base = g.chance(0.55)
    team, team2 = g.rng.sample(BASEBALL if base else SOCCER, 2)
    form = g.pick(["game", "game", "coach", "sign", "birth"])
    a, ref = athlete(t, None if form == "sign" else team)
    feat = g.pick([f"今季{g.num(1, 40)}号の本塁打を放った", f"{g.num(5, 30)}試合連続安打を記録した",
                   f"先発して{g.num(5, 9)}回無失点と好投し、今季{g.num(2, 15)}勝目を挙げた"]) if base else \
        g.pick(["決勝ゴールを決めた", "2得点を挙げ、勝利に貢献した", "移籍後初ゴールを決めた"])
    if form == "sign":
        return fill(t, n, [], [f"{team}は{g.day(plain=True)}、{a}と{g.pick(['来季の契約を結んだ', '新たに契約した', '契約を更新した'])}と発表した。"])
    if form == "coach":
        coach = titled(t, {"jp": 4, "kata": 1}, "監督", org=team, short_p=0.4, male=True)[0]
        return [f"{a}が{g.day(plain=True)}の{team2}戦で{feat}。", f"{coach}は試合後、{q(Q_SPORTS, t)}と話した。"]
    if form == "birth" and t.names[-1].kind == "jp":  # a birthplace is not an address
        a = f"{g.pick(PREFS)}出身の{a}"
        t.tags.add("nores:birthplace")
    s = [f"{a}が{g.day(plain=True)}、{g.pick(['本拠地での', '敵地での', ''])}{team2}戦で{feat}。"]
    if len(t.persons) < n or g.chance(0.4):
        s.append(f"{ref}は{q(Q_SPORTS, t)}{g.pick(['と笑顔を見せた', 'と話した', 'と振り返った'])}。")
    return fill(t, n, [lambda t: f"{titled(t, {'jp': 1}, '監督', short_p=0.4, male=True)[0]}は{q(Q_COACH, t)}とたたえた。",
                       lambda t: f"チームメートの{athlete(t)[0]}も活躍した。"], s, cap=3)


def entertainment(t, n):
    g = t.g
    t.tags.update({"topic:entertainment", "dis:work"})
    work, c = f"「{g.pick(WORKS)}」", g.city(*g.locale())
    form = g.pick(["premiere", "sns", "voice", "tour", "director"])
    if form == "voice":  # a fictional character next to the real voice actor
        a, ref = artist(t, roles=["声優"])
        s = [f"人気アニメ「{g.pick(ANIME)}」で主人公の{g.pick(CHARACTERS)}の声を担当する{a}が{g.day()}、{g.pick(['結婚を発表した', '新作の収録を終えた', 'イベントに登場した'])}。"]
        t.tags.add("dis:character")
    elif form == "director" and n >= 2:
        d = t.who({"jp": 5, "kata": 1})
        t.add(d.full, dm := f"{d.full}監督")
        a, ref = artist(t, roles=["俳優"])
        return fill(t, n, [lambda t: f"共演した{artist(t, roles=['俳優'])[0]}も舞台あいさつに立った。"],
                    [f"{dm}の新作映画{work}が{g.day()}、公開された。", f"主演の{a}は{q(Q_ARTS, t)}と話した。"], cap=3)
    else:
        a, ref = artist(t, roles=["俳優"] if form == "premiere" else None)
        s = [{"premiere": f"{a}が{g.day()}、{g.pick([c + 'のホール', '東京都内の劇場', '都内のホテル'])}で開かれた主演映画{work}の完成披露試写会に出席した。",
              "sns": f"{a}が{g.day()}、自身のSNSで{g.pick(['結婚したこと', '第1子が誕生したこと', '芸能活動を休止すること'])}を発表した。",
              "tour": f"{a}が{g.day()}、{c}で全国ツアーの初日公演を行い、約{g.num(2, 9)}千人のファンが詰めかけた。",
              "director": f"{a}が主演する映画{work}が{g.day()}、公開された。"}[form]]
        t.tags.add("nores:event_place")
    if len(t.persons) < n or g.chance(0.4):
        s.append(f"{ref}は{q(Q_ARTS, t)}{g.pick(['と笑顔を見せた', 'と話した', 'とファンに感謝した'])}。")
    extras = {"premiere": [lambda t: f"共演した{artist(t, roles=['俳優'])[0]}も登壇した。"],
              "sns": [lambda t: f"親交のある{artist(t)[0]}も自身のSNSで祝福した。"],
              "tour": [lambda t: f"ゲストとして{artist(t, roles=['歌手'])[0]}も出演した。"]}.get(form, [])
    return fill(t, n, extras, s, cap=3)


def culture(t, n):
    g = t.g
    c, museum = g.city(*g.locale()), g.pick(W("美術館 歴史博物館 歴史資料館 郷土資料館"))
    t.tags.add("topic:culture")
    form = g.pick(["hist", "hist", "novel", "artist"])
    if form == "hist":  # historical figures are persons too, written without honorifics
        h = t.who(["hist"])
        era = g.pick(W("江戸時代 戦国時代 明治時代 鎌倉時代 室町時代"))
        role, obj = g.pick([("武将", "書状"), ("武将", "甲冑"), ("絵師", "屏風絵"), ("絵師", "掛け軸"), ("俳人", "自筆の句帳"),
                            ("歌人", "和歌の短冊"), ("茶人", "茶わん"), ("蘭学者", "日記"), ("刀工", "太刀")])
        m = g.pick([f"{era}の{role}、{h.full}", f"{role}・{h.full}", f"{era}に活躍した{role}の{h.full}"])
        t.add(h.full, m)
        t.tags.add("role:historical")
        k = g.num(0, 2)
        s = [[f"{m}の{obj}が{c}の{museum}で{g.num(10, 90)}年ぶりに公開されている。", f"{m}ゆかりの寺で{g.day()}、法要が営まれ、多くの人が訪れた。",
              f"{c}の{museum}は{g.day()}、{m}の作とみられる{obj}が見つかったと発表した。"][k]]
        where = f"{c}の{museum}の" if k == 1 else "同館の"  # "同館" needs a museum mentioned before
        curator_q = ["貴重な史料で、研究が進むと期待される", "多くの人に見てもらいたい"]
        extra = [lambda t: f"{where}{titled(t, {'jp': 1}, '学芸員', short_p=0)[0]}は{q(curator_q, t)}と話している。",
                 lambda t: f"{h.full}の子孫にあたる{civ(t, addr_p=0.6, occs=[], kinds={'jp': 1})[0]}も訪れた。"]
    elif form == "novel":
        m, _ = artist(t, roles=["作家"])
        s = [f"{m}の小説「{g.pick(WORKS)}」が{g.pick(W('本屋大賞 文学新人賞 児童文学賞'))}に選ばれた。"]
        extra = [lambda t: f"選考委員で{named(t, '作家の{N}さん')}は{q(['時代を映す傑作だ', '新しい才能の登場を喜びたい'], t)}と評価した。"]
        t.tags.add("dis:work")
    else:  # an artist's residence, possibly abroad, next to the gallery's place
        m, _ = civ(t, addr_p=0.8, occs=W("画家 写真家 陶芸家 彫刻家 書家"), kinds={"jp": 1}, abroad_p=0.35)  # "パリ在住の画家"
        s = [f"{m}の{g.pick(['個展', '作品展'])}が{g.day()}から、{c}の{g.pick(['ギャラリー', '百貨店', museum])}で開かれている。"]
        t.tags.add("nores:event_place")
        extra = [lambda t: f"会場を訪れた{civ(t, addr_p=0.6)[0]}は{q(['色使いがとても美しい', '元気をもらえた'], t)}と話した。"]
    return fill(t, n, extra, s, cap=3)


def science(t, n):
    g = t.g
    t.tags.add("topic:science")
    finding, field = g.pick([("iPS細胞から心臓の筋肉を効率よく作る方法を開発した", "再生医学"), ("深海の微生物が新しい種類の酵素を持つことを発見した", "微生物学"),
                             ("睡眠不足が記憶の定着を妨げる仕組みを解明した", "脳科学"), ("太陽系外の惑星で水蒸気の兆候を捉えた", "天文学"),
                             ("縄文時代の集落跡から国内最古級の漆器が見つかった", "考古学"), ("高温でも枯れにくい稲の遺伝子を特定した", "植物生理学"),
                             ("南海トラフ沿いでゆっくりとした地殻変動が続いていることが分かった", "地震学")])
    e, ref = expert(t, field)
    s = [g.pick([f"{e}らの研究グループは{g.day()}、{finding}と発表した。", f"{e}らのチームが{finding}と、{g.day(plain=True)}付の英科学誌に発表した。",
                 f"{finding}と、{e}らが{g.day()}発表した。"])]
    if len(t.persons) < n or g.chance(0.4):
        s.append(f"{ref}は{q(Q_SCIENCE, t)}{say(t)}。")
    return fill(t, n, [lambda t: f"研究には{expert(t, field)[0]}らも参加した。",
                       lambda t: f"{expert(t, field)[0]}は{q(['画期的な成果だ', 'さらなる検証が必要だ'], t)}と評価している。"], s, cap=3)


def local(t, n):
    g = t.g
    pref, city = g.locale()
    c = g.city(pref, city)
    t.tags.add("topic:local")
    form = g.pick(["awards", "crop", "birthday", "donate", "festival", "lecture", "home"])
    extras = [ex_witness]
    if form == "awards" and n >= 2:  # several residents in one list
        contest = g.pick(["市民写真コンテスト", "書道展", "作文コンクール", "俳句大会", "料理コンテスト"])
        p1, p2 = civ(t, addr_p=0.8)[0], civ(t, addr_p=0.8, child=g.chance(0.3))[0]
        if n >= 3 and g.chance(0.6):
            p2 += "と" + civ(t, addr_p=0.8)[0]
        s = [f"{c}の{contest}の表彰式が{g.day()}に開かれ、最優秀賞に{p1}、優秀賞に{p2}が選ばれた。"]
        extras = [lambda t: f"審査員特別賞には{civ(t, addr_p=0.8)[0]}が選ばれた。"]
    elif form == "crop":
        m, ref = civ(t, addr_p=0.85, occs=W("農業 農家 果樹農家"), home=(pref, city))
        s = [f"{m}が育てた{g.pick(W('イチゴ メロン 米 トマト りんご 梨 ブドウ 茶'))}が、{pref}の品評会で最高賞に選ばれた。",
             f"{ref}は{q(Q_CIVIL, t)}{say(t)}。"]
        extras = [lambda t: f"審査委員長を務めた{named(t, '{N}さん')}は{q(['味も見た目も申し分ない', '生産者の努力の成果だ'], t)}と評価した。",
                  lambda t: f"{mayor_of(t, pref, city)[0]}も{q(Q_LOCAL, t)}と祝福した。"]
    elif form == "birthday":
        m, ref = civ(t, ages=(100, 100), addr_p=0.9, occs=[], home=(pref, city))
        s = [f"{m}が{g.day()}、100歳の誕生日を迎えた。"]
        extras = [lambda t: f"{mayor_of(t, pref, city)[0]}が訪れ、祝い状と記念品を手渡した。"]
    elif form == "donate":  # the facility's city is not the donor's residence
        m, ref = civ(t, addr_p=0.75)
        fac = g.pick([("児童養護施設", "施設長"), ("小学校", "校長"), ("市立図書館", "館長"), ("病院", "院長")])
        s = [f"{m}が{g.day()}、{c}の{fac[0]}に{g.pick(['絵本100冊', '現金50万円', '車いす10台'])}を寄贈した。"]
        extras = [lambda t: f"{titled(t, {'jp': 1}, fac[1], short_p=0.3)[0]}は{q(['大切に使わせていただきます', '子どもたちも喜ぶと思う'], t)}と感謝した。"]
        t.tags.add("nores:facility_place")
    elif form == "festival":  # a place named like a surname is still a place
        m, ref = civ(t, addr_p=0.5)
        s = [f"{g.place_with_surname()}で{g.day()}、伝統の{g.pick(['秋祭り', '盆踊り', 'どんど焼き', '夏祭り'])}が開かれ、{m}ら約{g.num(2, 9)}0人が参加した。"]
        t.tags.update({"dis:place_surname", "nores:event_place"})
        extras = [lambda t: f"実行委員長の{named(t, '{N}さん')}は{q(['伝統を次の世代につなぎたい', '天候に恵まれてよかった'], t)}と話した。"]
    elif form == "home":  # "自宅" states a residence
        addr, level, _, _ = g.address()
        n_ = t.who(CIVILIAN_KINDS)
        age = g.num(20, 95)
        m = f"{n_.full}さん{t.age_fmt.format(age)}"
        t.add(n_.full, m, addr, level)
        t.tags.update({"res:jitaku", "mention:age"})
        s = [f"{g.day(precise=True)}、{addr}の自宅で{occupation(g, age, n_.male, n_.kind)}の{m}が倒れているのが見つかり、"
             f"{g.pick(['死亡が確認された', '病院に運ばれた'])}。"]
    else:
        m, ref = civ(t, addr_p=0.5)
        s = [f"{m}が{g.day()}、{c}で開かれた{g.pick(['防災講座', '子育てフォーラム', '環境シンポジウム'])}で講演した。"]
        t.tags.add("nores:event_place")
        extras = [lambda t: f"会場には{civ(t, addr_p=0.6)[0]}ら約{g.num(2, 9)}0人が集まった。"]
    return fill(t, n, extras, s, cap=3)


def obituary(t, n):
    g = t.g
    t.tags.add("topic:obituary")
    n_ = t.who({"jp": 1})
    while not n_.reading:  # the classic line carries the reading: "山田太郎さん（やまだ・たろう＝作家）"
        t.names.pop()
        n_ = t.who({"jp": 1})
    role = g.pick([f"元{g.company()}社長", "作家", "元プロ野球選手", "元衆院議員", "俳人", "日本画家", "元小学校長"])
    cause, age, p = g.pick(W("肺炎 心不全 老衰 がん 腎不全")), g.num(60, 101), g.pick(PREFS)
    form = g.pick(["classic", "plain", "late"])
    m = {"classic": f"{n_.full}さん（{n_.reading}＝{role}）", "plain": f"{role}の{n_.full}さん", "late": f"{role}で{p}出身の{n_.full}さん"}[form]
    t.add(n_.full, m)
    t.tags.update({"nores:birthplace", "mention:reading" if form == "classic" else "mention:occupation"})
    s = [{"classic": f"{m}{g.day()}、{cause}のため死去、{age}歳。{p}出身。",
          "plain": f"{m}が{g.day()}、{cause}のため{g.pick(PREFS)}内の病院で死去した。{age}歳だった。",
          "late": f"{m}が{g.day()}、{cause}のため死去していたことが分かった。{age}歳だった。"}[form]]
    return fill(t, n, [lambda t: f"親交のあった{artist(t, roles=W('作家 俳優 歌手'))[0]}は{q(['寂しくてたまらない', '多くのことを教わった'], t)}と悼んだ。"], s)


# A surname written alone must not also be a place, team or stable of the kit's texts ("千葉", "広島", "川崎").
LONE_STOP = "|".join(PREFS + [c for cs in PREF_CITIES.values() for c in cs] + BASEBALL + SOCCER + STABLES + FAMOUS_COMPANIES
                     + W("鹿島 浦和 川崎 神戸 阪神 巨人 中日 広島 横浜 東京 大阪 名古屋 京都 札幌 福岡 仙台"))


# ---------------------------------------------------------------- hard shapes of real news: scene(t, n) -> sentences
# Real news often names a person only by the surname (a second mention read alone), by a ring or stage name, in a
# list, by a foreign name with nothing around it, or deep inside a long sentence; these scenes make those common.
LONE_POL_TITLES = W("首相 首相 官房長官 外相 財務相 防衛相 経済産業相 厚生労働相 文部科学相 国土交通相 知事 知事 市長 町長 "
                    "幹事長 代表 議長 元首相")
LONE_VENUES = ["記者会見で", "記者団に対し", "定例会見で", "国会内で記者団に", "訪問先で記者団に", "衆院本会議で", "党の会合で"]
Q_SUMO = ["自分の相撲を取り切れた", "一番一番集中していく", "まだまだ上を目指したい", "体がよく動いた", "気持ちで負けなかった"]
FEATS = {"base": ["{i}回に{k}号ソロ本塁打を放った", "{i}回に勝ち越しの適時二塁打を放った", "先発して{j}回1失点と好投した",
                  "{i}回から登板し、無失点に抑えた", "3安打2打点と活躍した", "{i}回に同点の2点適時打を放った"],
         "soccer": ["後半{m}分に決勝ゴールを決めた", "前半{m}分に先制ゴールを決めた", "1得点1アシストと活躍した",
                    "フル出場して無失点に貢献した", "後半{m}分に同点ゴールを挙げた"]}
DEEP_SUBJECTS = ["{pref}教育委員会", "{pref}", "{c}", "厚生労働省", "国土交通省", "消費者庁", "{comp}", "{univ}", "{pol}"]
DEEP_BACKGROUND = ["昨年度に管内で起きた事故の件数をまとめた報告書を公表し、", "近年相次いでいる特殊詐欺の被害を受けて、",
                   "老朽化した施設の改修計画を見直す中で、", "災害時の避難計画の不備が指摘されたことを受けて、",
                   "来年度の予算案の編成作業を進める中で、", "利用者から寄せられた苦情が増えていることを踏まえ、", ""]
DEEP_CLAUSES = ["{P}から寄せられた要望を踏まえ、", "{P}が代表を務める市民団体と協議したうえで、",
                "{P}らの研究グループが開発した新しい検査方法を取り入れる方針を固め、", "{P}が起こした訴訟で敗訴したことを受け、",
                "{P}が提供した写真や資料をもとに、", "{P}を講師に招いた研修会を開くなど、", "{P}らでつくる検討会の提言を受けて、",
                "{P}から寄付された約{m}万円を活用して、", "{P}が撮影した動画がSNSで広く拡散したことをきっかけに、",
                "{P}が長年続けてきた見守り活動を参考に、", "{P}の家族から相談を受けたことをきっかけに、"]
DEEP_EVENT_CLAUSES = ["{P}の指導のもと、", "{P}を講師に迎え、", "{P}が考案したプログラムに沿って、", "{P}らの呼びかけに応じた"]
DEEP_LEADS = ["全国の公立学校で教員不足が深刻化する中、", "物価高で家計の負担が増す中、", "記録的な猛暑が続き、熱中症で運ばれる人が相次ぐ中、",
              "過疎化で路線バスの廃止が相次ぎ、住民の足をどう守るかが課題となる中、", "空き家の増加が地域の防犯上の課題となる中、",
              "人手不足に悩む農家が増え、耕作放棄地が広がる中、", "高齢者を狙った詐欺の被害が後を絶たない中、"]
DEEP_MIDDLES = ["{org}が今年度から始めた支援制度を利用して、", "{org}が開いた説明会に参加したのをきっかけに、",
                "{org}の呼びかけで地域の見守り活動に加わり、", "{org}と協力して新しい取り組みを始めた"]
DEEP_RESULTS = ["来年度から相談窓口を増やす方針を示した", "再発防止策を取りまとめたと発表した", "新たな支援制度を設けることを決めた",
                "関係者への聞き取りを進めている", "現地調査を行う方針を明らかにした", "全職員を対象にした研修を始めると発表した",
                "対策の効果を検証する作業を始めた"]


def sur_only(t, fmt, kinds=None, male=None, address=None, level=None):
    """A person named by the surname alone ({S} in fmt, with its title or suffix); the answer is the surname."""
    n = t.who(kinds or {"jp": 1}, male, lone=True)
    mention = fmt.format(S=n.short)
    t.add(n.short, mention, address, level)
    t.tags.update(["mention:surname_only", "shape:lone_surname"] + ["shape:kata_alone"] * (n.kind in ("kata", "korean_kata")))
    return mention, n


def feat(g, base, avoid=""):
    """A play of a baseball or soccer game; avoid= a sentence whose play must not be told twice."""
    plays = [f for f in FEATS["base" if base else "soccer"] if f.split("{")[-1][2:] not in avoid]
    return g.pick(plays).format(i=g.num(1, 9), k=g.num(1, 40), j=g.num(5, 8), m=g.num(3, 45))


def voice_mention(t, lead=""):
    """A resident in an interview by surname only ('横浜市の会社員、田中さん（45）'), with a residence or without."""
    g = t.g
    age, addr_p = g.num(20, 85), 0.8
    a = t.age_fmt.format(age) if g.chance(0.85) else ""
    occ = occupation(g, age, g.chance(0.5), "jp")
    if g.chance(addr_p) and not lead:
        addr, level, _, _ = g.address(CALM_LEVELS)
        fmt = g.pick([f"{addr}の{occ}、{{S}}さん{a}", f"{addr}に住む{{S}}さん{a}", f"{addr}在住の{occ}、{{S}}さん{a}",
                      f"{addr}の{{S}}さん{a}", f"{addr}で暮らす{{S}}さん{a}"])
        return sur_only(t, fmt, address=addr, level=level)[0]
    fmt = g.pick([f"{occ}の{{S}}さん{a}", f"{{S}}さん{a}", f"{g.pick(PREFS)}出身の{{S}}さん{a}", f"近くに住む{{S}}さん{a}"])
    t.tags.update(["nores:birthplace"] * ("出身" in fmt) + ["nores:nearby"] * ("近く" in fmt))
    return lead + sur_only(t, fmt)[0]


def lone(t, n):
    """Texts whose only mention of a person is the surname: with a title or suffix, or alone in sports ('大谷は')."""
    g = t.g
    form = g.weighted({"pol": 5, "sports": 6, "crime": 5, "trial": 2, "exec": 3, "voice": 10, "expert": 2, "royal": 1})
    day, pref, city = g.day(), *g.locale()
    if form == "pol":
        t.tags.add("topic:politics")
        title = g.pick(LONE_POL_TITLES)
        org = {"知事": f"{pref}の", "市長": f"{g.city(pref, city)}の" if city.endswith("市") else ""}.get(title, "") * g.chance(0.3)
        m, n1 = sur_only(t, org + "{S}" + title)
        t.tags.update(["nores:office_place"] * bool(org))
        if n >= 2:
            m2 = sur_only(t, "{S}" + g.pick([x for x in LONE_POL_TITLES if x != title] + ["氏"]))[0]
            s = [f"{m}は{day}、{g.pick(['首相官邸で', '国会内で', '都内で', ''])}{m2}と会談し、{g.pick(POL_TOPICS)}について意見を交わした。"]
        else:
            s = [g.pick([f"{m}は{day}の{g.pick(LONE_VENUES)}、{g.pick(POL_TOPICS)}について{q(Q_POLITICS, t)}と述べた。",
                         f"{g.pick(POL_TOPICS)}をめぐり、{m}は{day}、{q(Q_POLITICS, t)}と語った。",
                         f"{m}は{day}、{g.pick(POL_TOPICS)}に関して{q(Q_POLITICS, t)}と強調した。"])]
        if n >= 3:
            s.append(f"同席した{sur_only(t, '{S}' + g.pick(W('副大臣 政務官 氏')))[0]}も{q(Q_POLITICS, t)}と述べた。")
        return s
    if form == "sports":
        t.tags.update({"topic:sports", "dis:team", "role:athlete"})
        base = g.chance(0.55)
        team, team2 = g.rng.sample(BASEBALL if base else SOCCER, 2)
        pos = g.pick(["選手", "投手"] if base else ["選手"])
        m, n1 = sur_only(t, g.weighted({"{S}": 55, "{S}" + pos: 25, f"{team}の{{S}}": 20}), male=True)
        d = g.day(plain=True)
        s = [g.pick([f"{m}は{d}の{team2}戦で、{feat(g, base)}。", f"{m}が{d}、{team2}戦で{feat(g, base)}。"])]
        if n >= 2 and g.chance(0.6):
            s.append(f"{sur_only(t, '{S}', male=True)[0]}も{feat(g, base, avoid=s[0])}。")
        if len(t.persons) < n:
            s.append(f"{sur_only(t, '{S}監督', male=True)[0]}は{q(Q_COACH, t)}と話した。")
        elif g.chance(0.4):
            s.append(f"{n1.short}は{q(Q_SPORTS, t)}と振り返った。")
        return s
    if form in ("crime", "trial"):
        t.tags.update({"topic:crime", "role:suspect"})
        pol = g.police(pref, city)
        hon = "容疑者" if form == "crime" else "被告"
        m, n1 = sur_only(t, "{S}" + hon, CIVILIAN_KINDS)
        if form == "crime":
            s = [g.pick([f"{pol}によると、{m}は{q(Q_ADMIT, t)}と容疑を認めている。", f"調べに対し、{m}は{q(Q_DENY, t)}と容疑を否認しているという。",
                         f"{pol}は{day}、{m}を{g.pick(CHARGES)}の疑いで再逮捕した。", f"{pol}は{day}、{m}の自宅を家宅捜索した。",
                         f"{m}は{day}、{g.pick(CHARGES)}の疑いで送検された。"])]
            if n >= 2:
                v = sur_only(t, "{S}さん", CIVILIAN_KINDS)[0] if g.chance(0.5) else civ(t)[0]
                s.append(f"{pol}は、{n1.short}容疑者が{v}{g.pick(['とトラブルになっていたとみて調べている。', 'を狙った可能性があるとみている。'])}")
            return s
        court = g.pick(COURTS)
        s = [g.pick([f"{g.pick(CHARGES)}の罪に問われた{m}の{g.pick(['初公判', '判決公判', '論告求刑公判'])}が{day}、{court}で開かれた。",
                     f"{court}は{day}、{m}に懲役{g.num(2, 15)}年の判決を言い渡した。", f"{m}は{day}、{court}で開かれた初公判で起訴内容を認めた。"])]
        if n >= 2:
            s.append(f"{sur_only(t, '{S}裁判長')[0]}は{q(['身勝手な犯行で、酌量の余地はない', '反省の態度を示している'], t)}と述べた。")
        return s
    if form == "exec":
        t.tags.update({"topic:economy", "role:executive", "dis:company"})
        comp, title = g.company(), g.pick(W("社長 社長 会長 副社長 CEO 頭取"))
        m = sur_only(t, g.pick([f"{comp}の{{S}}{title}", f"{{S}}{title}"]), {"jp": 85, "kata": 10, "korean_kata": 5})[0]
        plan = g.pick(["来年春に新工場を稼働させる", "国内で新たに採用を増やす", "主力商品を値上げする", "東南アジアでの事業を拡大する"])
        return [f"{m}は{day}、{g.pick(['記者会見で', '決算会見で', '報道各社のインタビューで'])}、{plan}考えを明らかにした。"]
    if form == "royal":  # members of the imperial family are named by the given name alone: "〇〇さま"
        t.tags.update({"topic:local", "mention:given_only", "shape:lone_surname"})
        while True:
            given = g.pick(VOCAB_GIVEN_F if g.chance(0.6) else VOCAB_GIVEN_M)[0]
            if len(given) >= 2:
                break
        t.names.append(Name(given, given, "", "royal"))
        t.add(given, m := f"{given}さま")
        return [g.pick([f"{m}は{day}、{g.city(pref, city)}を訪れ、{g.pick(['福祉施設の利用者らと交流された', '伝統工芸の工房を視察された', '被災地の復興状況について説明を受けられた'])}。",
                        f"{m}は{day}、{g.pick(['全国大会の開会式に出席し、', '記念式典に臨み、'])}あいさつされた。"])]
    if form == "expert":
        t.tags.update({"role:expert", "mention:title"})
        m = sur_only(t, g.pick([f"{g.pick(UNIVS)}の{{S}}教授", f"{{S}}教授（{g.pick(FIELDS)}）", "{S}准教授", "{S}弁護士", "{S}医師"]), EXPERT_KINDS)[0]
        return [f"{g.pick(POL_TOPICS + INTL_TOPICS)}について、{m}は{q(Q_EXPERT, t)}{g.pick(['と指摘する', 'と話す', 'と分析している'])}。"]
    t.tags.add("topic:local")  # residents in an interview, by surname only
    lead = g.pick([f"{g.pick(['食料品の値上がり', 'ガソリン価格の高騰', '路線バスの減便', '新しい図書館の開館'])}をめぐり、", "", ""])
    s = [f"{lead}{voice_mention(t)}は{q(Q_CIVIL + Q_WITNESS, t)}{say(t)}。"]
    if n >= 2:
        s.append(f"{voice_mention(t)}も{q(Q_CIVIL + Q_WITNESS, t)}と話した。")
    return s


def stage(t, n):
    """Persons named by a ring name, stage name or single name: sumo wrestlers, comedians, singers, rakugo, monks."""
    g = t.g
    t.tags.add("shape:stage_name")
    form = g.weighted({"sumo": 36, "comedian": 18, "artist": 14, "pen": 8, "rakugo": 10, "soccer": 9, "monk": 5})
    day, c = g.day(), g.city(*g.locale())
    if form == "sumo":
        t.tags.update({"topic:sports", "role:athlete"})
        a = t.who(["sumo"])
        basho, k = g.pick(BASHO), g.num(2, 14)  # day 1 is 初日, day 15 千秋楽
        ra = g.pick(SUMO_RANKS + [f"前頭{g.num(1, 17)}枚目"])
        ma = g.pick([f"{ra}{a.full}", f"{ra}{a.full}（{g.pick(STABLES)[:-2]}）", f"{a.full}"])
        t.add(a.full, ma)
        if n >= 2:
            b = t.who(["sumo"])
            mb = f"{g.pick(SUMO_RANKS + ['前頭'])}{b.full}"
            t.add(b.full, mb)
            w = g.num(1, k)
            s = [g.pick([f"大相撲{basho}{k}日目の{g.day(plain=True)}、{ma}は{mb}を{g.pick(KIMARITE)}で破り、{w}勝{k - w}敗とした。",
                         f"大相撲{basho}は{g.day(plain=True)}、{k}日目を迎え、{ma}が{mb}を{g.pick(KIMARITE)}で下した。"])]
            if g.chance(0.4):
                s.append(f"{a.full}は{q(Q_SUMO, t)}と話した。")
            return s
        birth = g.pick(PREFS + ["モンゴル"] * 4)  # a birthplace, never an address
        t.tags.add("nores:birthplace")
        if g.chance(0.3):  # away from the ring: "豊昇龍関"
            t.persons[-1]["first"] = f"{a.full}関"
            return [f"{birth}出身の{a.full}関が{day}、{c}の小学校を訪れ、子どもたちと交流した。"]
        return [g.pick([f"日本相撲協会は{day}、{birth}出身の{ma}の大関昇進を正式に決めた。",
                        f"{basho}で初優勝した{birth}出身の{ma}が{day}、一夜明けの会見に臨み、{q(Q_SUMO, t)}と話した。"])]
    if form == "soccer":
        t.tags.update({"topic:sports", "role:athlete", "dis:team"})
        team, team2 = g.rng.sample(SOCCER, 2)
        a = t.who(["mononym"])
        t.add(a.full, m := g.pick([f"{team}の{a.full}", a.full, f"{team}のFW{a.full}"]))
        s = [f"{m}が{g.day(plain=True)}の{team2}戦で{feat(g, False)}。"]
        if n >= 2:
            s.append(f"{t.who(['mononym']).full}も{feat(g, False)}。")
            t.add(t.names[-1].full, t.names[-1].full)
        return s
    if form == "monk":
        t.tags.update({"topic:culture", "role:historical"})
        a = t.who(["monk"])
        t.add(a.full, m := g.pick([f"{g.pick(W('江戸時代 室町時代 鎌倉時代'))}の僧、{a.full}", f"画僧の{a.full}", f"{a.full}上人"]))
        return [f"{m}が{g.pick(['描いたとされる掛け軸', '残した書状', '彫ったとされる仏像'])}が、{c}の寺で見つかった。"]
    t.tags.update({"topic:entertainment", "role:artist"})
    if form == "pen":  # pen names in hiragana: "たなかゆうこ"
        a = t.who(["pen"])
        role = g.pick(["絵本作家", "漫画家", "イラストレーター", "作詞家", "詩人"])
        t.add(a.full, m := g.pick([f"{role}の{a.full}さん", f"{role}、{a.full}さん"]))
        work = f"「{g.pick(WORKS)}」"
        t.tags.add("dis:work")
        return [g.pick([f"{m}の原画展が{day}から、{c}の美術館で開かれている。", f"{m}が手がけた{work}が{g.pick(['児童文学賞', '漫画賞'])}に選ばれた。",
                        f"{work}で知られる{m}が{day}、{g.pick(['老衰', '心不全', '肺炎'])}のため死去した。{g.num(70, 99)}歳だった。"])]
    kind, role = {"comedian": ("comedian", g.pick(["お笑い芸人", "ピン芸人", "タレント", "お笑いコンビ「{combo}」"])),
                  "artist": ("mono_artist", g.pick(["歌手", "シンガーソングライター", "モデル", "ダンサー", "ラッパー"])),
                  "rakugo": (g.pick(["rakugo", "kabuki"]), "")}[form]
    a = t.who([kind])
    role = role.format(combo=g.pick(COMBOS)) or ("落語家" if kind == "rakugo" else "歌舞伎俳優")
    t.tags.update(["dis:org"] * ("コンビ" in role))
    hon = g.pick(["さん", "さん", ""])
    ma = g.pick([f"{role}の{a.full}{hon}"] + [f"{role}、{a.full}{hon}"] * ("コンビ" not in role))
    if n >= 2 and "コンビ" in role:
        b = t.who([kind])
        t.add(a.full, ma)
        ma += f"と{b.full}{hon}"
        t.add(b.full, f"{b.full}{hon}")
    else:
        t.add(a.full, ma)
    staged = {"rakugo": ["襲名披露公演を行った", "独演会を開いた"], "kabuki": ["襲名披露公演を行った", "新作歌舞伎に主演した"]}.get(
        kind, ["全国ツアーの初日公演を行った", "イベントに登場した", "ファンミーティングを開いた"])  # these take a place
    unplaced = ["自身のSNSで結婚を発表した", "新曲を配信した", "芸能活動の休止を発表した"] if form != "rakugo" else ["芸術選奨を受賞した"]
    s = [g.pick([f"{ma}が{day}、{g.pick(unplaced)}。", f"{ma}が{day}、{c}で{g.pick(staged)}。"])]
    if len(t.persons) < n or g.chance(0.4):
        s.append(f"{a.full}{hon}は{q(Q_ARTS, t)}と話した。")
    return s


def family(t, k, addr):
    """k members of one family sharing a surname: '夫の…さん（78）、妻の…さん（75）'; all live at addr."""
    g = t.g
    while True:
        head = g.jp_name(male=True)
        if not any(head.short in u.full or u.short in head.full for u in t.names):
            break
    roles, mentions = ["", "妻の", "長男の", "長女の", "次男の", "母親の"], []
    for i in range(k):
        while True:
            n = head if i == 0 else g.jp_name(male=i in (2, 4))
            full = head.short + n.full[len(n.short):] if i else head.full
            if full not in [p["name"] for p in t.persons]:
                break
        name = Name(full, full, "", "jp", i in (0, 2, 4))
        t.names.append(name)
        m = f"{roles[i]}{full}さん{t.age_fmt.format(g.num(60, 90) if i < 2 else g.num(20, 55))}"
        t.add(full, m, addr[0], addr[1])
        mentions.append(m)
    return "、".join(mentions)


def roster(t, n):
    """Lists of three to six persons in one sentence: rankings, casts, cabinets, lineups, winners, suspects, families."""
    g = t.g
    t.tags.add("shape:list")
    k = g.weighted({3: 40, 4: 30, 5: 18, 6: 12})
    form = g.weighted({"golf": 3, "race": 2, "cast": 3, "cabinet": 3, "lineup": 3, "election": 2, "awards": 4,
                       "suspects": 5, "family": 3, "victims": 4, "sumo": 2, "medals": 2, "hist": 2})
    day, pref, city = g.day(), *g.locale()
    c = g.city(pref, city)

    def members(kinds, fmt="{N}", surname=False, male=None, count=k):
        out = []
        for _ in range(count):
            n_ = t.who(kinds, male, lone=surname)
            nm = n_.short if surname else n_.full
            m = fmt.format(N=nm)
            t.add(nm, m)
            out.append(m)
        t.tags.update(["mention:surname_only", "shape:lone_surname"] * surname)
        return out

    if form == "golf":
        t.tags.update({"topic:sports", "role:athlete"})
        event = g.pick(W("女子ゴルフ 男子ゴルフ"))
        ms = members(SOLO_KINDS if event == "女子ゴルフ" else {"jp": 9, "kata": 1}, surname=g.chance(0.45), male=event == "男子ゴルフ")
        return [f"{event}の{g.pick(['国内ツアー', 'メジャー大会', 'ツアー大会'])}は{g.day(plain=True)}、第{g.num(1, 3)}ラウンドが行われ、"
                f"{ms[0]}が首位に立った。{'、'.join(ms[1:])}が{g.num(1, 3)}打差で続く。"]
    if form == "race":
        t.tags.update({"topic:sports", "role:athlete"})
        race, male = g.pick([("大阪国際女子マラソン", False), ("名古屋ウィメンズマラソン", False), ("日本選手権の男子1万メートル", True),
                             ("別府大分毎日マラソン", True), ("日本選手権の女子100メートル", False), ("全日本実業団対抗駅伝の1区", True)])
        ms = members({"jp": 8, "kata": 1}, surname=g.chance(0.3), male=male, count=min(k, 4))
        rest = "、".join(f"{i + 2}位は{m}" for i, m in enumerate(ms[1:]))
        return [f"{race}は{g.day(plain=True)}に行われ、{ms[0]}が優勝した。{rest}だった。"]
    if form == "cast":
        t.tags.update({"topic:entertainment", "role:artist", "dis:work"})
        hon = g.pick(["さん", ""])
        ms = members({"jp": 85, "kata": 5, "mono_artist": 5, "comedian": 5}, "{N}" + hon)
        work = f"「{g.pick(WORKS)}」"
        return [g.pick([f"映画{work}の完成披露試写会が{day}、都内で開かれ、{'、'.join(ms)}らが登壇した。",
                        f"ドラマ{work}の新たな出演者として、{'、'.join(ms)}の{k}人が発表された。",
                        f"{day}公開の映画{work}には{'、'.join(ms)}らが出演している。"])]
    if form == "cabinet":
        t.tags.update({"topic:politics", "role:politician", "mention:title"})
        posts = g.rng.sample(MINISTERS, min(k, 5))
        if g.chance(0.5):  # "官房長官に田村一郎氏、外相に…": full names
            pm = sur_only(t, "{S}首相")[0]
            ms = members({"jp": 1}, "{N}氏", count=len(posts))
            return [f"{pm}は{day}、内閣改造を行い、{'、'.join(f'{p}に{m}' for p, m in zip(posts, ms))}を起用した。"]
        ms = [sur_only(t, "{S}" + p)[0] for p in posts]  # "田村官房長官、北野外相、…": surnames with their posts
        return [g.pick([f"{day}の閣議には{'、'.join(ms)}らが出席した。", f"政府は{day}、{'、'.join(ms)}による関係閣僚会議を開いた。"])]
    if form == "lineup":
        t.tags.update({"topic:sports", "role:athlete", "dis:team"})
        if g.chance(0.5):
            team, team2 = g.rng.sample(BASEBALL, 2)
            ms = members({"jp": 9, "kata": 1}, surname=True, male=True)
            order = "、".join(f"{i + 1}番{m}" for i, m in enumerate(ms))
            for p, m in zip(t.persons[-k:], order.split("、")):
                p["first"] = m  # "2番田村" pins the first mention
            return [f"{team}は{g.day(plain=True)}の{team2}戦で、{order}の打順で臨んだ。"]
        clubs = SOCCER + ["鹿島", "浦和", "川崎", "神戸"]
        ms = members({"jp": 9, "kata": 1}, "{N}", male=True, surname=g.chance(0.4))
        listed = "、".join(f"{m}（{g.pick(clubs)}）" for m in ms)
        t.tags.add("dis:team")
        return [f"サッカー日本代表の{g.pick(['メンバー', '候補'])}が{day}発表され、{listed}らが選ばれた。"]
    if form == "election":
        t.tags.update({"topic:politics", "role:politician", "mention:age"})
        ms = members({"jp": 1}, "{N}氏", count=min(k, 5))
        ms = [f"{m}{t.age(35, 75)}" for m in ms]
        race = g.pick([f"{pref}議会議員補欠選挙", f"{pref}議会議員選挙の{city}選挙区"])
        t.tags.add("nores:office_place")
        return [f"{race}は{g.day(plain=True)}投開票され、{'、'.join(ms)}の{len(ms)}人が当選した。"]
    if form == "awards":
        t.tags.update({"topic:local"})
        ms = [civ(t, addr_p=0.75, occs=[])[0] for _ in range(min(k, 4))]
        contest = g.pick(["市民写真コンテスト", "書道展", "作文コンクール", "俳句大会", "料理コンテスト"])
        return [f"{c}の{contest}の表彰式が{day}開かれ、{'、'.join(ms)}に賞状が贈られた。"]
    if form == "suspects":
        t.tags.update({"topic:crime", "role:suspect"})
        pol, act = g.police(pref, city), g.pick([a for a in CRIME_ACTS if "{v}" not in a]).replace("{m}", str(g.num(3, 900)))
        k = min(k, 4)
        if g.chance(0.5):  # "いずれも…の": one address for all of them
            addr, level, _, _ = g.address(POLICE_LEVELS)
            ns = [t.who(CIVILIAN_KINDS) for _ in range(k)]
            for n_ in ns:
                t.add(n_.full, n_.full, addr, level)
            t.tags.add("res:izuremo")
            listed = "、".join(f"{n_.full}{t.age(19, 60)}" for n_ in ns)
            return [f"{pol}は{day}、{act}疑いで、いずれも{addr}の{g.pick(OCCUPATIONS)}、{listed}の{k}容疑者を逮捕した。"]
        ms = [civ(t, hon="容疑者", ages=(19, 60), occs=[], addr_p=0.7)[0] for _ in range(min(k, 3))]
        return [f"{pol}は{day}、{act}疑いで、{'、'.join(ms)}の{len(ms)}人を逮捕した。"]
    if form == "medals":
        t.tags.update({"topic:sports", "role:athlete"})
        ms = members(SOLO_KINDS, count=3, male=g.chance(0.5))
        event = g.pick(["柔道", "競泳", "体操", "レスリング", "スピードスケート"])
        medals = "、".join(f"{c_}メダルの{m}" for c_, m in zip(["金", "銀", "銅"], ms))
        return [f"{event}の{g.pick(['全日本選手権', '国際大会', 'ワールドカップ'])}の表彰式には、{medals}の3選手が笑顔で並んだ。"]
    if form == "hist":
        t.tags.update({"topic:culture", "role:historical"})
        ms = members(["hist"], count=min(k, 4))
        return [g.pick([f"{g.pick(['歴史番組', '特別展', '新しい大河ドラマ'])}では、{'、'.join(ms)}を取り上げる。",
                        f"{c}の{g.pick(['歴史博物館', '郷土資料館'])}で{day}、{'、'.join(ms)}ゆかりの品を集めた企画展が始まった。"])]
    if form == "victims":  # each with a home of his own: "…市の会社員、A さん（34）、…町の無職、B さん（71）…"
        t.tags.update({"topic:accident"})
        ms = [civ(t, addr_p=0.9, ages=(18, 90))[0] for _ in range(min(k, 3))]
        return [g.pick([f"{day}、{c}の{g.pick(['国道', '県道', '交差点'])}で{g.pick(VEHICLES)}同士が衝突し、{'、'.join(ms)}が病院に運ばれた。",
                        f"{pref}内で{day}、大雨による土砂崩れがあり、{'、'.join(ms)}の行方が分からなくなっている。"])]
    if form == "family":
        t.tags.update({"topic:accident", "res:izuremo"})
        addr, level, _, _ = g.address(CALM_LEVELS)
        listed = family(t, min(k, 4), (addr, level))
        return [g.pick([f"{day}、{c}の住宅から出火した火事で、死亡したのは、いずれも{addr}に住む{listed}と確認された。",
                        f"事故で死亡したのは、いずれも{addr}の{listed}。"])]
    t.tags.update({"topic:sports", "role:athlete"})
    ranks = g.rng.sample(W("横綱 大関 関脇 小結") + [f"前頭{g.num(1, 17)}枚目"], min(k, 4))
    ms = members(["sumo"], count=len(ranks))
    t.tags.add("shape:stage_name")
    return [f"大相撲{g.pick(BASHO)}{g.num(2, 14)}日目の{g.day(plain=True)}、{'、'.join(r + m for r, m in zip(ranks, ms))}は"
            f"そろって{g.pick(['白星を挙げた', '勝ち越しを決めた', '黒星を喫した'])}。"]


def kata_alone(t, n):
    """Foreign names in katakana with nothing around them: 'ミラーは', 'ジョン・ミラーさん（45）', 'マリアさん'."""
    g = t.g
    t.tags.add("shape:kata_alone")
    form = g.weighted({"sports": 4, "exec": 2, "resident": 3, "given": 2, "quote": 2, "leader": 2})
    day, c = g.day(), g.city(*g.locale())
    if form == "sports":
        t.tags.update({"topic:sports", "role:athlete", "dis:team"})
        base = g.chance(0.5)
        team, team2 = g.rng.sample(BASEBALL if base else SOCCER, 2)
        n_ = t.who({"kata": 1}, male=True)
        m = g.weighted({n_.short: 45, n_.full: 30, f"{team}の{n_.short}": 15, f"新外国人の{n_.full}": 10})
        t.add(n_.short if n_.full not in m else n_.full, m)
        s = [f"{m}が{g.day(plain=True)}の{team2}戦で{feat(g, base)}。"]
        if n >= 2 or g.chance(0.3):
            s.append(f"{n_.short}は{q(Q_SPORTS, t)}と振り返った。")
        return s
    if form == "exec":
        t.tags.update({"topic:economy", "role:executive", "dis:company"})
        n_ = t.who({"kata": 1})
        comp = g.pick(PERSON_COMPANIES + [g.company(famous=False)]).lstrip("米英独伊")
        m = g.pick([f"{comp}の{n_.short}{g.pick(['CEO', '社長', '会長'])}", f"{comp}の{n_.full}最高経営責任者（CEO）", f"{n_.full}CEO"])
        t.add(n_.short if n_.full not in m else n_.full, m)
        return [f"{m}は{day}、{g.pick(['来日して記者会見し', '東京都内で講演し', '声明を出し'])}、{g.pick(['日本での事業を拡大する', '新しい工場を建設する', '人員を削減する'])}方針を示した。"]
    if form in ("resident", "given"):
        t.tags.update({"topic:local"})
        n_ = t.who({"kata": 1} if form == "resident" else {"kata_given": 1})
        a = t.age(20, 70) if g.chance(0.7) else ""
        occ = g.pick(FOREIGN_OCCUPATIONS)
        if g.chance(0.6):
            addr, level, _, _ = g.address(CALM_LEVELS)
            m = g.pick([f"{addr}に住む{n_.full}さん{a}", f"{addr}の{occ}、{n_.full}さん{a}", f"{addr}で暮らす{n_.full}さん{a}"])
            t.add(n_.full, m, addr, level)
        else:
            m = g.pick([f"{occ}の{n_.full}さん{a}", f"{n_.full}さん{a}", f"{g.pick(['フィリピン', 'ブラジル', 'ネパール', 'ペルー'])}出身の{n_.full}さん{a}"])
            t.add(n_.full, m)
        school = "地元の" if t.persons[-1]["address"] else f"{c}の"  # a class far from the home would read oddly
        s = [g.pick([f"{m}が{day}、{c}で開かれた{g.pick(['国際交流イベント', '防災講座', '料理教室'])}で講師を務めた。",
                     f"{m}は{q(Q_CIVIL, t)}{say(t)}。", f"{school}日本語教室に通う{m}が{day}、スピーチ大会で最優秀賞に選ばれた。"])]
        return s
    if form == "quote":
        t.tags.update({"role:expert"})
        n_ = t.who({"kata": 1})
        hon = g.pick(["氏", "氏", "教授", "さん"])
        t.add(n_.short, m := f"{n_.short}{hon}")
        return [g.pick([f"{q(Q_EXPERT, t)}。{m}は{day}、{g.pick(['記者団にこう語った', '声明でこう述べた', '取材にこう答えた'])}。",
                        f"{g.pick(INTL_TOPICS)}について、{m}は{q(Q_EXPERT, t)}と指摘した。"])]
    t.tags.update({"topic:international", "role:politician", "mention:title"})
    n_ = t.who({"kata": 1})
    title = g.pick(W("大統領 首相 外相 国務長官 報道官"))
    t.add(n_.short, m := f"{n_.short}{title}")
    s = [f"{m}は{day}、{g.pick(INTL_TOPICS)}について{q(Q_POLITICS, t)}と述べた。"]
    if n >= 2:
        n2 = t.who({"kata": 1})
        t.add(n2.full, m2 := f"{n2.full}{g.pick(['氏', '副大統領', '特使'])}")
        s.append(f"会談には{m2}も同席した。")
    return s


def deep(t, n):
    """A person deep inside a long sentence (80-200 characters), not its subject."""
    g = t.g
    t.tags.add("shape:deep")
    pref, city = g.locale()
    c = g.city(pref, city)
    subject = g.pick(DEEP_SUBJECTS).format(pref=pref, c=c, comp=g.company(famous=False), univ=g.pick(UNIVS), pol=g.police(pref, city))

    def person(weights=None):
        kind = g.weighted(weights or {"civ": 5, "expert": 2, "lone": 2, "artist": 1})
        if kind == "civ":
            return civ(t, addr_p=0.75)[0]
        if kind == "expert":
            return expert(t)[0]
        if kind == "lone":
            return sur_only(t, g.pick(["{S}さん", "{S}氏", "{S}教授", "{S}弁護士"]))[0]
        return artist(t)[0]

    form = g.weighted({"event": 3, "tail": 3, "clause": 5})
    if form == "tail":  # a long lead, then the person at the end: "…中、…に加わった会社員の…さん（38）は「…」と話す。"
        s = (f"{g.pick(DEEP_LEADS)}{g.pick(DEEP_MIDDLES).format(org=subject)}{person({'civ': 4, 'lone': 1})}は{q(Q_CIVIL + Q_LOCAL, t)}"
             f"{g.pick(['と話す', 'と話している', 'と意気込む', 'と語った'])}。")
    elif form == "event":  # an event whose subject is the crowd
        guide = g.pick(DEEP_EVENT_CLAUSES).format(P=person())
        s = (f"{g.day()}、{c}の{g.pick(['市民会館', '公民館', '体育館', '小学校'])}で開かれた{g.pick(['防災訓練', '地域の祭り', '発表会'])}では、"
             f"{guide}地元の子どもたちや住民ら約{g.num(2, 9)}0人が{g.pick(['日ごろの練習の成果を披露し', '初期消火や避難の手順を確かめ'])}、"
             f"会場は大きな拍手に包まれた。")
        t.tags.add("nores:event_place")
    else:
        clauses = g.rng.sample(DEEP_CLAUSES, 2)
        parts = [clauses[0].format(P=person(), m=g.num(10, 900))]
        if n >= 2:
            parts.append(clauses[1].format(P=person(), m=g.num(10, 900)))
        s = f"{subject}は{g.day()}、{g.pick(DEEP_BACKGROUND)}{''.join(parts)}{g.pick(DEEP_RESULTS)}。"
    if len(s) < 80 and form == "clause":
        s = s[:-1] + f"と、{g.pick(['関係者が明らかにした', '地元紙などが伝えた'])}。"
    return [s]


def missing(t, n):
    """Missing, found and rescued persons: police releases that give the home at every level."""
    g = t.g
    t.tags.add("topic:local")
    pref, city = g.locale()
    pol, day = g.police(pref, city), g.day(precise=True)
    form = g.pick(["missing", "found", "rescue", "heat"])
    m, ref = civ(t, addr_p=0.92, ages=(18, 92), levels=ADDRESS_LEVEL_WEIGHTS, home=(pref, city) if form == "missing" else None)
    s = [{"missing": f"{pol}は{g.day()}、{m}が{day}から行方不明になっていると発表した。",
          "found": f"{day}、{g.pick(['山林', '河川敷', '海岸', '用水路'])}で、行方が分からなくなっていた{m}が見つかった。",
          "rescue": f"{day}、{g.pick(['川で流された', '山で道に迷った', '海で沖に流された'])}{m}が救助された。",
          "heat": f"{day}、{g.city(pref, city)}の畑で{m}が倒れているのが見つかり、{g.pick(['熱中症の疑いで病院に運ばれた', 'その後、死亡が確認された'])}。"}[form]]
    if form == "missing":
        s.append(f"{ref}は身長約{g.num(140, 185)}センチで、{g.pick(['紺色の上着', '白いシャツ', '黒いズボン'])}を着ていたという。")
    else:
        s.append(g.pick([f"{pol}によると、{ref}に大きなけがはないという。"] * (form != "heat") + [f"{pol}が当時の状況を詳しく調べている。"]))
    return fill(t, n, [lambda t: f"一緒にいた{civ(t, addr_p=0.8)[0]}は自力で助けを求めた。", ex_witness], s, cap=3)


# ---------------------------------------------------------------- scenes without persons: scene(t) -> sentences
def neg_weather(t):
    g = t.g
    pref, city = g.locale()
    region = REGION[pref]
    return g.pick([[f"気象庁によると、{g.day()}は{pref}など{region}を中心に{g.pick(['大気の状態が非常に不安定になった', '広い範囲で雨が降った', '今季一番の冷え込みとなった'])}。",
                    f"{g.city(pref, city)}では最高気温が{g.num(28, 39)}度に達した。"],
                   [f"台風{g.num(1, 25)}号は{g.day()}、{pref}に接近し、{city}で1時間に{g.num(30, 99)}ミリの雨を観測した。"],
                   [f"{pref}では{g.day()}、大雨の影響で{city}の約{g.num(2, 900)}世帯に避難指示が出された。"]])


def neg_market(t):
    g = t.g
    t.tags.add("dis:company")
    comp = g.company(famous=False)
    return [g.pick([f"{g.day()}の東京外国為替市場で、円相場は1ドル＝{g.num(130, 160)}円台で取引された。",
                    f"日経平均株価は{g.day()}、前日比{g.num(10, 900)}円{g.pick(['高', '安'])}で取引を終えた。",
                    f"{g.company()}は{g.day()}、{g.num(2023, 2025)}年{g.pick(['3', '9', '12'])}月期決算を発表し、"
                    f"純利益が前年比{g.num(2, 60)}％{g.pick(['増', '減'])}だった。",
                    f"{comp}は{g.day()}、{g.city(*g.locale())}の工場での生産を一時停止すると発表した。",
                    f"{comp}（{g.city(*g.locale())}）は{g.day()}、{g.company()}と業務提携すると発表した。"])]


def neg_voices(t):
    """Quotes from unnamed people, as in street-interview paragraphs."""
    g = t.g
    t.tags.add("dis:anonymous")
    topic = g.pick(["食料品の値上がり", "ガソリン価格の高騰", "最低賃金の引き上げ", "路線バスの減便"])
    who = g.pick([f"買い物に来た{g.city(*g.locale())}の主婦{t.age(30, 75)}", f"市内の会社員男性{t.age(25, 60)}", f"近くに住む{g.num(2, 8)}0代の女性",
                  "利用客の男子大学生", f"{g.city(*g.locale())}の自営業の男性{t.age(40, 75)}"])
    return [f"{topic}をめぐり、{who}は{q(['家計が苦しい', 'もう少し何とかしてほしい', '仕方がないと思う', '生活への影響が心配だ'], t)}と話した。"]


def neg_org(t):
    g = t.g
    t.tags.add("dis:org")
    org = g.pick(W("厚生労働省 国土交通省 文部科学省 日本銀行 観光庁 消費者庁 総務省 日本郵便 JR東日本 日本相撲協会") + [g.pick(PREFS) + "教育委員会"])
    ann = g.pick(["来年度から新しい制度を導入する", f"今年の訪日客が{g.num(2, 4)}千万人を超えた", "いじめの認知件数が過去最多になった",
                  "一部の料金を値上げする", "記念切手を発行する", f"{g.pick(UNIVS)}と連携協定を結んだ"])
    return [f"{org}は{g.day()}、{ann}と発表した。"]


def neg_sports(t):
    g = t.g
    t.tags.add("dis:team")
    a, b = g.rng.sample(BASEBALL, 2) if g.chance(0.5) else g.rng.sample(SOCCER, 2)
    s1, s2 = (g.num(0, 9), g.num(0, 9)) if a in BASEBALL else (g.num(0, 3), g.num(0, 3))
    return [g.pick([f"{a}は{g.day(plain=True)}、本拠地で{b}と対戦し、{max(s1, s2) + 1}－{min(s1, s2)}で勝った。",
                    f"{a}と{b}の試合は{g.day(plain=True)}に行われ、{s1}－{s1}で引き分けた。",
                    f"{a}は{g.day(plain=True)}の{b}戦に{min(s1, s2)}－{max(s1, s2) + 1}で敗れ、連敗が{g.num(2, 8)}に伸びた。"])]


def neg_incident(t):
    """Incidents with only an address or anonymous people: nothing to extract."""
    g = t.g
    t.tags.add("neg:address_only")
    addr, _, pref, city = g.address()
    c, pol, day = g.city(pref, city), g.police(pref, city), g.day(precise=True)
    act = g.pick(CRIME_ACTS).replace("{v}", anon(t)).replace("{m}", str(g.num(3, 500)))
    return g.pick([[f"{day}、{addr}の住宅から出火し、木造2階建て約{g.num(40, 200)}平方メートルが全焼した。", "けが人はいなかった。"],
                   [f"{day}、{c}の交差点で{g.pick(VEHICLES)}と{g.pick(VEHICLES)}が衝突し、{anon(t)}が軽いけがをした。"],
                   [f"{pol}は{day}、{act}疑いで、{c}の{g.pick(OCCUPATIONS)}の{g.pick(['男', '女'])}{t.age(20, 70)}を逮捕した。"],
                   [f"{day}、{addr}で、{anon(t)}が刃物を持った男に切りつけられた。", f"{pol}が殺人未遂事件として逃げた男の行方を追っている。"]])


def neg_culture(t):
    """Works, characters, animals and surname-like places: person-like but not persons."""
    g = t.g
    c = g.city(*g.locale())
    i = g.num(0, 4)
    t.tags.add(["dis:work", "dis:character", "dis:place_surname", "dis:animal", "dis:work"][i])
    return [[f"人気アニメ「{g.pick(ANIME)}」の劇場版が{g.day()}公開され、初日から多くの家族連れでにぎわった。",
             f"{c}の商業施設で{g.day()}、キャラクター「{g.pick(CHARACTERS)}」と写真が撮れるイベントが開かれた。",
             f"{g.place_with_surname()}で{g.day()}、伝統の秋祭りが開かれ、地元の住民ら約{g.num(2, 9)}00人が参加した。",
             f"{c}の動物園で、{g.pick(['ライオン', 'ゾウ', 'キリン', 'ジャイアントパンダ'])}の「{g.pick(ANIMALS)}」が{g.day()}、{g.num(2, 30)}歳の誕生日を迎えた。",
             g.pick([f"「{g.pick(ANIME)}」の原画展が{g.day()}から、{c}の美術館で始まった。",
                     f"「{g.pick(CLASSICS)}」の古い写本が{c}の旧家で見つかったと、{g.pick(UNIVS)}の研究チームが{g.day()}発表した。"])][i]]


def neg_lookalike(t):
    """Names that are not persons: race horses, ships, sumo stables, awards and companies named after people, team lists."""
    g = t.g
    day, pref, city = g.day(), *g.locale()
    form = g.pick(["horse", "ship", "stable", "award", "company", "teams", "banzuke"])
    t.tags.add({"horse": "dis:animal", "ship": "dis:ship", "stable": "dis:org", "award": "dis:award", "company": "dis:company",
                "teams": "dis:team", "banzuke": "dis:org"}[form])
    horse = lambda: g.pick(HORSE_HEAD) + g.pick(HORSE_TAIL)  # noqa: E731
    if form == "horse":
        race = g.pick(["天皇賞・秋", "日本ダービー", "有馬記念", "ジャパンカップ", "桜花賞", "菊花賞", "宝塚記念"])
        return [f"競馬の{race}は{g.day(plain=True)}、{g.pick(['東京', '京都', '阪神', '中山'])}競馬場で行われ、"
                f"{g.pick(['1番人気の', '3番人気の', ''])}{horse()}が優勝した。{horse()}が2着に入った。"]
    if form == "ship":
        return [f"{day}、{pref}沖で漁船「第{g.num(1, 88)}{g.pick(W('大洋 清 幸福 八幡 共栄 福寿 栄光 宝'))}丸」から「浸水している」と通報があり、"
                f"{g.pick(['海上保安部', '管区海上保安本部'])}が乗組員{g.num(2, 9)}人を救助した。"]
    if form == "stable":
        return [f"大相撲の{g.pick(STABLES)}は{day}、{g.pick(['新弟子の入門を発表した', '九州場所に向けた稽古を公開した', '部屋の移転を発表した'])}。"]
    if form == "award":
        return [g.pick([f"第{g.num(100, 175)}回{g.pick(PERSON_AWARDS[:2])}の選考会が{day}、東京都内で開かれる。",
                        f"今年の{g.pick(['芥川賞', '直木賞', 'ノーベル文学賞'])}の発表を前に、{g.city(pref, city)}の書店では関連本の特設コーナーが設けられた。",
                        f"プロ野球で最も活躍した先発投手に贈られる沢村賞の選考委員会が{day}開かれた。"])]
    if form == "company":
        return [f"{g.pick(PERSON_COMPANIES)}は{day}、"
                f"{g.pick(['日本法人の社長交代を発表した', '新製品を日本で発売すると発表した', '国内の工場を増強すると発表した'])}。"]
    if form == "teams":
        base = g.chance(0.5)
        teams = g.rng.sample(BASEBALL if base else SOCCER, g.num(3, 4))  # a list, but of teams
        return [f"{'プロ野球' if base else 'Jリーグ'}は{g.day(plain=True)}、各地で試合が行われ、{'、'.join(teams)}がいずれも勝った。"]
    return [f"日本相撲協会は{day}、大相撲{g.pick(BASHO)}の新番付を発表した。"]


POSITIVE_SCENES = {crime: 18, trial: 6, accident: 14, politics: 9, international: 7, economy: 7, sports: 9,
                   entertainment: 7, culture: 6, science: 4, local: 17, obituary: 3, missing: 11}
HARD_SCENES = {lone: 28, stage: 12, roster: 16, kata_alone: 11, deep: 12}  # the shapes of SHAPE_TAGS
NEGATIVE_SCENES = {neg_weather: 3, neg_market: 4, neg_voices: 2, neg_org: 3, neg_sports: 3, neg_incident: 4, neg_culture: 4,
                   neg_lookalike: 6}


# ---------------------------------------------------------------- records
def make_record(g, negative, hard=False):
    """One record and its tags, or None when a short name also occurs before its first mention (order unclear).

    Raises ValueError when the answer breaks the guideline's verbatim rule: that is a bug of a scene."""
    t = Text(g)
    if negative:
        scene = g.weighted(NEGATIVE_SCENES)
        sents = scene(t)
        t.tags.add("negative")
    else:
        scene = g.weighted(HARD_SCENES if hard else POSITIVE_SCENES)
        sents = scene(t, g.weighted(PERSON_COUNT_WEIGHTS))
    text = "".join(sents)
    t.tags.add("scene:" + scene.__name__)
    for p in t.persons:
        if p["first"] not in text or p["name"] not in p["first"]:
            raise ValueError(f"{scene.__name__}: name {p['name']!r} or its mention {p['first']!r} is not in the text: {text}")
        if p["address"] is not None and p["address"] not in text:
            raise ValueError(f"{scene.__name__}: address {p['address']!r} is not in the text: {text}")
        if text.find(p["name"]) != text.index(p["first"]) + p["first"].index(p["name"]):
            return None  # "千葉" inside an earlier "千葉県": the first occurrence is not this person's mention
    persons = sorted(t.persons, key=lambda p: text.index(p["first"]))  # order of first appearance
    answer = [{"name": p["name"], **({"address": p["address"]} if p["address"] else {})} for p in persons]
    if len({p["name"] for p in answer}) != len(answer):
        raise ValueError(f"{scene.__name__}: a person is listed twice: {text}")
    t.tags.add(f"persons:{len(answer)}")
    if t.tags & set(SHAPE_TAGS):
        t.tags.add("shape:any")
    record = {"messages": [{"role": "system", "content": EXTRACTION_SYSTEM_PROMPT}, {"role": "user", "content": text},
                           {"role": "assistant", "content": json.dumps({"persons": answer}, ensure_ascii=False)}]}
    return record, t.tags


def make_split(seed, size, exclude):
    """size records with unique texts of acceptable length, none of them in exclude."""
    g, records, tags, seen = Gen(seed), [], Counter(), set(exclude)
    n_neg = round(size * NEGATIVE_SHARE)
    n_hard = round((size - n_neg) * HARD_SHARE)
    kinds = ["negative"] * n_neg + ["hard"] * n_hard + ["plain"] * (size - n_neg - n_hard)  # exact shares, shuffled
    g.rng.shuffle(kinds)
    misses = 0
    while len(records) < size:
        made = make_record(g, kinds[len(records)] == "negative", kinds[len(records)] == "hard")
        text = made and made[0]["messages"][1]["content"]
        if made is None or text in seen or not MIN_CHARS <= len(text) <= MAX_CHARS:
            misses += 1
            if misses > 20 * size + 1000:  # a pool too small for this size would otherwise loop for ever
                raise ValueError(f"could not make {size} distinct texts (made {len(records)}); ask for fewer")
            continue
        seen.add(text)
        records.append(made[0])
        tags.update(made[1])
    return records, tags


def shape_stats(records, tags):
    """Shares of one split: each shape tag among positive records, persons with an address, mean characters."""
    texts = [r["messages"][1]["content"] for r in records]
    answers = [json.loads(r["messages"][2]["content"])["persons"] for r in records]
    positives = sum(1 for a in answers if a) or 1
    persons = [p for a in answers for p in a]
    stats = {tag: tags[tag] / positives for tag in (*SHAPE_TAGS, "shape:any")}
    stats["negative"] = 1 - positives / len(records)
    stats["address_per_person"] = sum("address" in p for p in persons) / max(len(persons), 1)
    stats["mean_chars"] = sum(map(len, texts)) / len(texts)
    return stats


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-size", type=int, default=1500, help="number of training records (default 1500: one epoch in about seven minutes on 2 CPU cores with bf16 units)")
    ap.add_argument("--validation-size", type=int, default=120, help="number of validation records (default 120)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the train stream; validation uses seed+1 (default 0)")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                    help="output folder for train.jsonl and validation.jsonl (default tmp_docker/dataset in the repository)")
    ap.add_argument("--stats", action="store_true", help="print per-phenomenon record counts for both splits")
    args = ap.parse_args()

    train, train_tags = make_split(args.seed, args.train_size, exclude=set())
    train_texts = {r["messages"][1]["content"] for r in train}
    validation, val_tags = make_split(args.seed + 1, args.validation_size, exclude=train_texts)  # own stream, no overlap
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out_dir / "train.jsonl", train)
    write_jsonl(args.out_dir / "validation.jsonl", validation)
    print(f"wrote {len(train)} train and {len(validation)} validation records to {args.out_dir}")
    if args.stats:
        print(f"{'phenomenon (records with it)':30s} {'train':>6s} {'valid':>6s}")
        for tag in sorted(set(train_tags) | set(val_tags)):
            print(f"{tag:30s} {train_tags[tag]:6d} {val_tags[tag]:6d}")
        st, sv = shape_stats(train, train_tags), shape_stats(validation, val_tags)
        print(f"\n{'share (shapes: of positive records)':36s} {'train':>6s} {'valid':>6s}")
        for key in st:
            fmt = "{:6.1f}" if key == "mean_chars" else "{:6.1%}"
            print(f"{key:36s} {fmt.format(st[key])} {fmt.format(sv[key])}")


if __name__ == "__main__":
    main()
