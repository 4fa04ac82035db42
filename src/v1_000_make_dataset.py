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
Residences come at prefecture, city/ward, town and street level.

The words come from two data files beside the bundled data: vocabulary_ja.yml (names, places, organisations,
quotes, sentence parts; its comments say what each list is for) and names_ja.tsv (converted from
japanese-personal-name-dataset by src/v1_000_make_names.py, see NAMES_NOTICE.md), plus Faker. This script is the
grammar that puts them together. The same --seed always gives byte-identical files; --stats prints the count of
every phenomenon and the shares of the shapes.

Run from the repository root:
    python src/v1_000_make_dataset.py [--train_size 1500] [--validation_size 120] [--seed 0] [--out_dir DIR] [--stats]
Writes DIR/train.jsonl and DIR/validation.jsonl (default DIR: tmp_docker/dataset in the repository), one chat
record per line, each file atomically: an interrupted run leaves the previous file whole. Validation is drawn from
its own stream (seed+1) and never repeats a training text. The hyphenated flags (--train-size, --out-dir, ...)
work too.
"""
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

from faker import Faker

from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.data import read_text_file
from ftkit.errors import KitError
from ftkit.files import write_jsonl
from ftkit.runs import check_output_root, disk_errors_named
from ftkit.settings import check_number
from ftkit.task import EXTRACTION_SYSTEM_PROMPT


@dataclass
class Settings:
    train_size: int = field(default=1500, metadata={
        "help": "training records (1500: one epoch in about seven minutes on 2 CPU cores with bf16 units)"})
    validation_size: int = field(default=120, metadata={"help": "validation records"})
    seed: int = field(default=0, metadata={"help": "seed of the training stream; validation uses seed+1"})
    out_dir: str = field(default=str(DEFAULT_DATASET_DIR), metadata={
        "help": "folder that receives train.jsonl and validation.jsonl"})
    stats: bool = field(default=False, metadata={
        "help": "print how many records of each split have each phenomenon, and the shares of the shapes"})
    vocabulary_file: str = field(default=str(DEFAULT_DATASET_DIR / "vocabulary_ja.yml"), metadata={
        "help": "the words the texts are made of (YAML); another file gives other texts for the same seed"})
    names_file: str = field(default=str(DEFAULT_DATASET_DIR / "names_ja.tsv"), metadata={
        "help": "Japanese surnames and given names with readings (from src/v1_000_make_names.py)"})


# ---------------------------------------------------------------- the mix
NEGATIVE_SHARE = 0.28                        # texts with no person at all
HARD_SHARE = 0.40                            # texts with a person drawn from HARD_SCENES (the SHAPE_TAGS shapes)
PERSON_COUNT_WEIGHTS = {1: 36, 2: 34, 3: 20, 4: 10}
ADDRESS_LEVEL_WEIGHTS = {"pref": 2, "city": 5, "town": 2, "street": 3}  # town: "…市〇〇町", street: "…2丁目3番"
CALM_LEVELS = {"pref": 2, "city": 7, "town": 2, "street": 1}   # residents in soft news: rarely a street address
POLICE_LEVELS = {"pref": 1, "city": 3, "town": 3, "street": 4}  # suspects: police releases are precise
MIN_CHARS, MAX_CHARS = 25, 200               # short texts keep a CPU epoch around five minutes
# Who lives next door: mostly Japanese names, but foreign residents appear in real local news too.
CIVILIAN_KINDS = {"jp": 84, "viet": 5, "chinese": 4, "korean_kanji": 3, "korean_kata": 3, "kata": 1}
EXPERT_KINDS = {"jp": 72, "kata": 10, "latin": 8, "chinese": 5, "korean_kanji": 5}
TEAM_KINDS = {"jp": 70, "kata": 15, "mononym": 15}                 # men's baseball and soccer
SOLO_KINDS = {"jp": 55, "kata": 12, "korean_kata": 10, "chinese": 10, "korean_kanji": 8, "latin": 5}
ARTIST_KINDS = {"jp": 70, "kata": 10, "korean_kata": 8, "latin": 6, "initials": 6}
EXEC_KINDS = {"jp": 78, "kata": 8, "latin": 7, "initials": 7}
WESTERN_NAME_ORIGINS = {"en": 50, "fr": 10, "de": 10, "it": 6, "ru": 6, "pt": 8, "es": 10}
# The "hard" shapes of real news that a model trained on full-name-first texts misses; each record that has one
# carries its tag, and shape_stats() reports their shares.
SHAPE_TAGS = ("shape:lone_surname", "shape:stage_name", "shape:list", "shape:kata_alone", "shape:deep")


# ---------------------------------------------------------------- the words (vocabulary_ja.yml, names_ja.tsv)
# The words are data beside the bundled files they make (where names_ja.tsv already was), not constants in code: a
# list is edited without reading the grammar, and reading a YAML file, unlike importing a module, runs nothing.
# vocabulary_ja.yml writes name pairs as mappings (written form: reading); the grammar picks from lists of pairs.
PAIR_ENTRIES = ("japanese_surnames_extra", "japanese_given_male_extra", "japanese_given_female_extra",
                "chinese_surnames", "korean_surnames")
GENDERED_PAIR_ENTRIES = ("chinese_given", "korean_given")
SHAPE_ENTRIES = ("residence_shapes", "shapes_without_residence", "foreign_resident_shapes",
                 "suspect_without_home_shapes")


class Country(NamedTuple):
    name: str              # "米国"
    short: str             # "米", before a title: "スミス米大統領"
    titles: list
    name_kinds: list       # how its leaders are named: "kata:en", "chinese", ...
    capital: str


def read_names(path: Path) -> dict:
    """names_ja.tsv: surnames [(written, reading)] with cumulative weights, male and female given names."""
    surnames, weights, given = [], [], {"m": [], "f": []}
    for number, line in enumerate(read_text_file(path).splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        try:
            kind, written, reading, weight = line.split("\t")
            if kind == "sur":
                weights.append(int(weight) ** 0.5)  # common surnames stay common, rare ones still come up
                surnames.append((written, reading))
            else:
                given[kind].append((written, reading))
        except (ValueError, KeyError):
            raise KitError(f"{path}:{number}: expected kind (sur, m or f), written form, reading and weight, "
                           "separated by tabs") from None
    if not surnames or not given["m"] or not given["f"]:
        raise KitError(f"{path}: no names in it; rebuild it with python src/v1_000_make_names.py")
    return {"surnames": surnames, "surname_cumulative_weights": list(accumulate(weights)),
            "given_male": given["m"], "given_female": given["f"]}


def read_vocabulary(path: Path, names_path: Path) -> dict:
    """The words of vocabulary_ja.yml and names_ja.tsv as the grammar uses them; a broken file is a KitError.

    yaml.safe_load builds plain lists, mappings and strings only: a tag that would make an object or call a function
    is refused, so a vocabulary file from anywhere can be read without running anything in it."""
    import yaml

    path, names_path = Path(path), Path(names_path)
    for required in (path, names_path):
        if not required.is_file():
            raise KitError(f"{required}: file not found")
    try:
        entries = yaml.safe_load(read_text_file(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise KitError(f"{where}: not a vocabulary file: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(entries, dict):
        raise KitError(f"{path}: expected a mapping of word lists (name: [words]), got {type(entries).__name__}")
    try:
        for key in PAIR_ENTRIES:
            entries[key] = list(entries[key].items())
        for key in GENDERED_PAIR_ENTRIES:
            entries[key] = {gender: list(pairs.items()) for gender, pairs in entries[key].items()}
        for key in SHAPE_ENTRIES:
            entries[key] = [tuple(shape) for shape in entries[key]]
        entries["countries"] = [Country(**country) for country in entries["countries"]]
        entries["prefectures"] = list(entries["cities"])
        entries["region_of"] = {prefecture: region for region, prefectures in entries["regions"].items()
                                for prefecture in prefectures}
        # A surname written alone must not also be a place, team or stable of the kit's texts ("千葉", "広島").
        entries["lone_surname_stop"] = "|".join(
            entries["prefectures"] + [city for cities in entries["cities"].values() for city in cities]
            + entries["baseball_teams"] + entries["soccer_teams"] + entries["sumo_stables"]
            + entries["famous_companies"] + entries["short_place_and_team_names"])
    except KeyError as error:
        raise KitError(f"{path}: no '{error.args[0]}' entry; the generator needs it") from None
    except (AttributeError, TypeError) as error:
        raise KitError(f"{path}: an entry has the wrong shape ({error}); compare it with the bundled file") from None
    entries.update(read_names(names_path))
    return entries


class Vocabulary:
    """The words as attributes (`words.parties`), read on first use or by `read`: importing the script reads no file,
    and a broken file is a one-line error of main(), which reads the files its settings name."""

    def __init__(self, path: str | Path, names_path: str | Path):
        self.path, self.names_path, self.entries = Path(path), Path(names_path), None

    def read(self, path: str | Path, names_path: str | Path) -> None:
        self.path, self.names_path = Path(path), Path(names_path)
        self.entries = read_vocabulary(self.path, self.names_path)

    def __getattr__(self, key):  # called for names that are not attributes: the entries
        if key.startswith("__") or key in ("path", "names_path", "entries"):
            raise AttributeError(key)
        if self.entries is None:
            self.entries = read_vocabulary(self.path, self.names_path)
        if key not in self.entries:
            raise KitError(f"{self.path}: no '{key}' entry; the generator needs it")
        return self.entries[key]


words = Vocabulary(Settings.vocabulary_file, Settings.names_file)


def to_hiragana(kata):  # katakana reading -> hiragana, for Japanese readings like "（やまだ・たろう）"
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kata)


# ---------------------------------------------------------------- names, places and companies
@dataclass
class Name:
    full: str      # fullest written form
    short: str     # form used for later mentions and surname-only mentions
    reading: str   # reading for parentheses, "" when none
    kind: str
    male: bool = True


class RandomDraws:
    """All randomness of one split: a seeded Random plus seeded Faker instances (never global state)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.faker_ja, self.faker_en = Faker("ja_JP"), Faker("en_US")
        self.faker_ja.seed_instance(seed)
        self.faker_en.seed_instance(seed)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def weighted(self, weights):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def number(self, lo, hi):
        return self.rng.randint(lo, hi)

    def date(self, precise=False, plain=False):
        """A news date; clock times only for incidents, games and announcements are dated by day."""
        day, hour = self.number(1, 30), self.number(1, 11)
        days = [f"{day}日", f"{day}日", f"今月{day}日", f"先月{day}日"] + [f"{day}日午前", f"{day}日午後"] * (not plain)
        return self.pick(days + [f"{day}日夜", f"{day}日未明", f"{day}日午後{hour}時ごろ", f"{day}日午前{hour}時半ごろ"]
                         * precise)

    def place(self):
        """A prefecture and one of its cities or wards."""
        pref = self.pick(words.prefectures)
        return pref, self.pick(words.cities[pref])

    def city_as_written(self, pref, city):
        """How news writes a city: '横浜市港北区', '青森市' bare; '埼玉県川口市' with the prefecture (mostly)."""
        bare = (any(city.startswith(b) for b in words.cities_without_prefecture)
                or pref == "東京都" and city.endswith("区") and self.chance(0.3))
        return city if bare and self.chance(0.92) or self.chance(0.08) else pref + city

    def town(self):
        """A town or district name: faker's (filtered) or composed the way Japanese ones are ('緑町', '東桜台', '中野')."""
        if self.chance(0.3):
            town = self.faker_ja.town()
            while len(town) > 5 or any("ァ" <= ch <= "ヶ" for ch in town) or town.endswith(("公園", "外苑", "駅")):
                town = self.faker_ja.town()  # skip faker's building-like "虎ノ門ヒルズ森タワー" and parks
            return town
        # many towns share a surname's name
        base = self.pick(words.town_name_bases) if self.chance(0.55) else self.surname()[0]
        prefix = self.pick(words.town_name_prefixes) if len(base) <= 2 and self.chance(0.15) else ""
        suffix = "町" if base in ("本", "新", "元") else self.weighted({"町": 45, "": 25, "台": 8, "が丘": 6, "本町": 4,
                                                                     "新町": 4})
        return prefix + base + suffix

    def address(self, levels=None, home=None):
        """A residence at a random level (prefecture, city/ward, town, street): (text, level, pref, city)."""
        pref, city = home or self.place()
        level = self.weighted(levels or ADDRESS_LEVEL_WEIGHTS)
        if level == "pref":
            return pref, level, pref, city
        if level == "city":
            return self.city_as_written(pref, city), level, pref, city
        head = self.city_as_written(pref, city) if self.chance(0.75) else pref + city
        if city.startswith("札幌市") and self.chance(0.5):  # Sapporo's grid: "北24条西5丁目"
            town = f"{self.pick(['北', '南'])}{self.number(1, 40)}条{self.pick(['東', '西'])}"
        else:
            town = self.town()
        if level == "town":
            return head + town, level, pref, city
        place = head + town
        chome, block, house = self.number(1, 9), self.number(1, 30), self.number(1, 25)  # small, as real ones are
        return self.pick([f"{place}{chome}丁目{block}番{house}号", f"{place}{chome}の{block}の{house}", f"{place}{chome}丁目",
                          f"{place}{chome}丁目{block}の{house}", f"{place}{chome}丁目{block}番",
                          f"{place}{self.number(1, 999)}番地", f"{place}{chome}－{block}－{house}"]), level, pref, city

    def police(self, pref, city):
        force = "警視庁" if pref == "東京都" else pref + "警"
        base = city.split("市")[-1] if city.endswith("区") and "市" in city else city
        return force + self.pick(["", base[:-1] + "署"]) if len(base) > 2 else force

    def surname(self, min_len=1):
        """A surname and its reading from names_ja.tsv, weighted by how common it is."""
        while True:
            surname = self.rng.choices(words.surnames, cum_weights=words.surname_cumulative_weights)[0]
            if len(surname[0]) >= min_len:
                return surname

    def japanese_name(self, hist=False, male=None):
        male = self.chance(0.5) if male is None else male
        source = self.rng.random()
        if source < 0.12:  # faker pairs carry the matching reading
            surname = self.faker_ja.last_name_pair()
            given = self.faker_ja.first_name_male_pair() if male else self.faker_ja.first_name_female_pair()
            surname, given = (surname[0], to_hiragana(surname[1])), (given[0], to_hiragana(given[1]))
        elif source < 0.2:
            surname = self.pick(words.japanese_surnames_extra)
            given = self.pick(words.japanese_given_male_extra if male else words.japanese_given_female_extra)
        else:  # names_ja.tsv: about 2,000 surnames and 2,700 given names
            surname, given = self.surname(), self.pick(words.given_male if male else words.given_female)
            if not male and len(given[1]) <= 3 and self.chance(0.06):
                given = (given[1], given[1])  # some women's names are written in hiragana: "さくら", "ひかり"
        if hist:
            given = (self.pick(words.historical_given_names), "")
        reading = f"{surname[1]}・{given[1]}" if given[1] else ""
        return Name(surname[0] + given[0], surname[0], reading, "hist" if hist else "jp")

    def stage_name(self, kind):
        """A ring name, stage name or single name: the whole of how news names that person."""
        if kind == "sumo":
            head = self.pick(words.sumo_name_heads)
            tails = [tail for tail in words.sumo_name_tails
                     if not (head[-1] in "ノ乃の" and tail[0] in "ノ乃の") and tail != head]
            return head + self.pick(tails)
        if kind == "comedian":
            return self.pick([self.pick(words.comedian_names),
                              self.pick(words.comedian_name_heads) + self.surname(2)[0],
                              self.surname(2)[0] + self.pick(words.comedian_name_suffixes)])
        if kind == "mono_artist":
            return self.pick(words.single_name_artists)
        if kind == "rakugo":
            return self.pick(words.rakugo_houses) + self.pick(words.rakugo_names)
        if kind == "kabuki":
            return self.pick(words.kabuki_houses) + self.pick(words.kabuki_names)
        if kind == "monk":
            return self.pick(words.monk_names)
        if kind == "pen":  # a pen name in hiragana, from a surname's and a given name's readings
            return self.surname(2)[1] + self.pick(words.given_male + words.given_female)[1]
        return self.pick(words.football_single_names)

    def name(self, kind, male=None):
        """A name of one style; male=None means either gender (only team sports need to choose)."""
        male = self.chance(0.5) if male is None else male
        gender = "male" if male else "female"
        if kind in ("jp", "hist"):
            return self.japanese_name(hist=kind == "hist", male=male or kind == "hist")
        # "kata:fr" asks for a French name, "kata_given" for a given name alone
        if kind.startswith("kata") or kind == "initials":
            origin = kind.split(":")[1] if ":" in kind else self.weighted(WESTERN_NAME_ORIGINS)
            western = words.western_names[origin]
            given_names, surname = western[gender], self.pick(western["surnames"])
            if origin == "ru" and not male:  # Russian women's surnames end in -ワ: ペトロフ -> ペトロワ
                surname = surname[:-1] + "ワ"
        if kind.startswith("kata:") or kind == "kata":
            return Name(f"{self.pick(given_names)}・{surname}", surname, "", "kata")
        if kind == "initials":  # "J・K・ローリング" or "ジョン・F・スミス", sometimes full-width letters
            first, middle = self.pick(words.initials), self.pick(words.initials)
            if self.chance(0.25):
                first, middle = chr(ord(first) + 0xFEE0), chr(ord(middle) + 0xFEE0)
            full = f"{first}・{middle}・{surname}" if self.chance(0.5) else f"{self.pick(given_names)}・{middle}・{surname}"
            return Name(full, surname, "", kind)
        if kind == "latin":
            surname = self.faker_en.last_name()
            given = self.faker_en.first_name_male() if male else self.faker_en.first_name_female()
            return Name(f"{given} {surname}", surname, "", kind)
        if kind in ("mononym", "sumo", "comedian", "mono_artist", "rakugo", "kabuki", "monk", "pen"):
            single = self.stage_name(kind)
            return Name(single, single, "", kind)
        if kind == "kata_given":  # a foreign resident named by the given name alone: "マリアさん"
            single = self.pick(given_names)
            return Name(single, single, "", kind)
        if kind == "viet":
            full = f"{self.pick(words.vietnamese_surnames)}・{self.pick(words.vietnamese_given[gender])}"
            return Name(full, full, "", kind)  # Vietnamese names are repeated in full in news
        surnames, given_names = ((words.chinese_surnames, words.chinese_given) if kind == "chinese"
                                 else (words.korean_surnames, words.korean_given))
        (surname, surname_reading), (given, given_reading) = self.pick(surnames), self.pick(given_names[gender])
        if kind == "korean_kata":
            return Name(f"{surname_reading}・{given_reading}", surname_reading, "", kind)
        return Name(surname + given, surname, f"{surname_reading}・{given_reading}", kind)

    def company(self, famous=True):
        """A company or brand, often carrying a surname: never a person. famous=False where a made-up HQ follows."""
        surname = self.faker_ja.last_name()
        return self.pick([self.faker_ja.company(), f"{surname}{self.pick(words.company_suffixes)}",
                          f"{self.pick(words.western_names['en']['surnames'])}・{self.pick(words.holding_suffixes)}",
                          f"{surname}{self.pick(words.group_suffixes)}"] + [self.pick(words.famous_companies)] * famous)

    def place_with_surname(self):  # "岩手県山田町", "松本市大谷地区": places that look like surnames
        pref, city = self.place()
        surname = self.pick(words.japanese_surnames_extra)[0] if self.chance(0.5) else self.faker_ja.last_name()
        return self.pick([f"{self.city_as_written(pref, city)}{surname}町",
                          f"{self.city_as_written(pref, city)}{surname}地区", f"{pref}{city}の{surname}地区", "岩手県山田町"])


# ---------------------------------------------------------------- one text and its persons
class Draft:
    """A text under construction: the persons it names, with their first mentions, and phenomenon tags."""

    def __init__(self, draw):
        self.draw, self.names, self.persons, self.tags, self.quotes_used = draw, [], [], set(), []
        self.age_format = draw.pick(["({})", "（{}）"])  # one style per text, as an editor would keep it

    def fresh_name(self, kinds, male=None, lone=False):
        """A fresh name whose forms cannot be confused with another person's in this text.

        lone=True asks for a name with a surname of two characters or more, to be written by the surname alone."""
        while True:
            kind = self.draw.weighted(kinds) if isinstance(kinds, dict) else self.draw.pick(kinds)
            sex = self.draw.chance(0.5) if male is None else male
            name = self.draw.name(kind, sex)
            if lone and (name.short == name.full or len(name.short) < 2 or name.short in words.lone_surname_stop):
                continue
            if not any(name.short in other.full or other.short in name.full for other in self.names):
                name.male = sex
                self.names.append(name)
                self.tags.add("kind:" + name.kind)
                return name

    def age_mention(self, lo=20, hi=85):
        self.tags.add("mention:age")
        return self.age_format.format(self.draw.number(lo, hi))

    def add_person(self, name, first, address=None, level=None):
        """A person of the answer: `name` as the answer gives it, `first` the mention that introduces it."""
        self.persons.append({"name": name, "first": first, "address": address})
        self.tags.add("addr:" + level if address else "person:no_address")


# ---------------------------------------------------------------- persons in their usual news forms
def occupation(draw, age, male, kind):
    """An occupation that fits the age and, for 主婦, the gender."""
    if kind in words.nationality:
        return draw.pick(words.foreign_resident_occupations)
    if age < 23:
        return draw.pick(words.young_occupations)
    if age >= 68:
        return draw.pick(words.old_occupations)
    return draw.pick(words.occupations + ["主婦"] * (not male) + ["アルバイト", "無職"])


def civilian(draft, hon="さん", ages=(20, 85), addr_p=None, kinds=None, lead="", child=False, occs=None, male=None,
             levels=None, home=None, abroad_p=0.0):
    """A private person (resident, victim, suspect, witness) in one of the news shapes. Returns (mention, ref).

    occs=[] leaves the occupation out; a lead like "現場近くに住む" or "近所の" never carries an address."""
    draw = draft.draw
    person = draft.fresh_name(kinds or CIVILIAN_KINDS, male)
    suspect = hon in ("容疑者", "被告")
    addr_p = (0.9 if suspect else 0.85) if addr_p is None else addr_p  # police releases and local news name the home
    age = draw.number(*ages) if person.kind not in words.nationality else draw.number(20, 45)
    if child:  # children get their own honorifics and school years
        age = draw.number(3, 11)
        hon = "ちゃん" if age <= 6 else draw.pick(["さん", "君" if person.male else "ちゃん"])
        occs = [draw.pick(["保育園児", "幼稚園児"]) if age <= 6 else f"小学{age - 6}年"]
    reading_p = 0.5 if person.kind in ("chinese", "korean_kanji") else 0.12
    written = person.full + (f"（{person.reading}）" if person.reading and draw.chance(reading_p) else "")
    if written != person.full:
        draft.tags.add("mention:reading")
    levels = levels or (POLICE_LEVELS if suspect else CALM_LEVELS)
    if draw.chance(abroad_p):
        addr, level = draw.pick(words.foreign_cities), "foreign"
    else:
        addr, level, _, _ = draw.address(levels, home)
    near = lead.endswith("住む") or lead.startswith("近所")
    has_addr = draw.chance(addr_p) and not near
    foreign_shapes = person.kind in words.nationality and not child and occs != []  # "ベトナム国籍の技能実習生、…"
    pool = (words.foreign_resident_shapes if foreign_shapes else
            words.residence_shapes + words.shapes_without_residence + words.suspect_without_home_shapes * suspect)
    shapes = [(tag, shape) for tag, shape in pool if tag.startswith("res") == has_addr
              and (occs != [] or "{O}" not in shape)
              and (suspect or tag != "res:jusho") and not (suspect and "paren" in tag)
              and not (level in ("pref", "foreign") and tag in ("res:jusho", "res:comma"))
              and not (level == "street" and tag == "res:paren") and not (near and tag != "nores:plain")
              and not ((child or age >= 68) and tag in ("nores:workplace", "nores:birthplace", "res:birth+res"))
              and not (has_addr and level == "foreign" and tag not in ("res:zaiju", "res:sumu", "res:birth+res"))]
    tag, shape = draw.pick(shapes)
    age_text = draft.age_format.format(age) if (draw.chance(0.8) or child) and "（" not in shape else ""
    birth_pref, birth_city = draw.place()
    foreign = person.kind in words.nationality or person.kind == "kata"
    birth = draw.pick([birth_pref, "ブラジル", "米国", "中国", "韓国"]) if foreign else birth_pref
    mention = lead + shape.format(
        A=addr, O=draw.pick(occs) if occs else occupation(draw, age, person.male, person.kind), N=written, h=hon,
        a=age_text, C=draw.city_as_written(birth_pref, birth_city), P=birth, W=draw.pick(words.workplaces),
        X=words.nationality.get(person.kind, ""))
    draft.tags.update([tag] + ["mention:age"] * bool(age_text) + ["mention:occupation"] * ("{O}" in shape)
                      + ["nores:nearby"] * near)
    draft.add_person(person.full, mention, addr if tag.startswith("res") else None, level)
    return mention, (person.full if person.kind == "viet" else person.short) + hon  # Vietnamese: repeated in full


def titled_person(draft, kinds, title, org="", joined=None, short_p=0.3, hon="氏", male=None, short_joined=True):
    """Someone named with a role: '横浜市の山田太郎市長', '山田首相' (surname only), '山田太郎・横浜市長'."""
    draw = draft.draw
    person = draft.fresh_name(kinds, male)
    joined = joined if joined is not None else org + title
    reading = f"（{person.reading}）" if person.reading and person.kind != "jp" and draw.chance(0.5) else ""
    # the answer is the surname alone; real news does this often ("鈴木首相は"), so every scene's share is raised by half
    if (person.short != person.full and draw.chance(min(1.0, short_p * 1.5))
            and person.short not in words.lone_surname_stop):
        draft.tags.add("mention:surname_only")
        forms = ([f"{org}の{person.short}{title}"] + [f"{person.short}{joined}"] * short_joined if org
                 else [f"{person.short}{title}"])
        mention = draw.pick(forms)
        draft.add_person(person.short, mention)
    else:
        forms = ([f"{org}の{person.full}{reading}{title}", f"{joined}の{person.full}{reading}{hon}"] if org
                 else [f"{person.full}{reading}{title}"])
        if org and person.kind in ("jp", "chinese", "korean_kanji"):
            forms.append(f"{person.full}・{joined}")  # this middle dot separates name and title, not part of the name
        mention = draw.pick(forms)
        draft.add_person(person.full, mention)
    draft.tags.add("mention:title")
    return mention, f"{person.short}{draw.pick([title, title, '氏'])}"


def named_person(draft, template, kinds=None, male=None):
    """A person whose first mention is the template with {N} replaced by the full name."""
    person = draft.fresh_name(kinds or {"jp": 1}, male)
    draft.add_person(person.full, mention := template.format(N=person.full))
    return mention


def mayor(draft, pref, city, short_p=0.3):
    """'高崎市の木村太郎市長', '木村高崎市長', '木村太郎・高崎市長': the city is his office, not his home."""
    office = city[-1] + "長"  # 市長, 区長, 町長
    return titled_person(draft, {"jp": 1}, office, org=draft.draw.city_as_written(pref, city), joined=city + "長",
                         short_p=short_p)


def anonymous_person(draft):
    """An unnamed person: looks like a mention but is never extracted."""
    draw = draft.draw
    draft.tags.add("dis:anonymous")
    city = draw.city_as_written(*draw.place())
    return draw.pick([f"近くに住む{draw.number(6, 9)}0代の女性", f"知人の男性{draft.age_mention(20, 70)}",
                      f"{city}の{draw.number(6, 9)}0代の女性", f"会社員の男性{draft.age_mention(20, 65)}",
                      f"同じ職場の{draw.number(2, 5)}0代の女性", f"{city}の会社員Aさん{draft.age_mention(20, 65)}",
                      f"面識のない{draw.number(2, 5)}0代の男性", "男子高校生", f"アルバイトの少年{draft.age_mention(16, 19)}",
                      "80代の女性"])


def quote(draft, quotes):
    """A quote in 「」, never the same one twice in a text."""
    fresh = [line for line in quotes if line not in draft.quotes_used] or quotes
    draft.quotes_used.append(chosen := draft.draw.pick(fresh))
    return "「" + chosen + "」"


def said(draft):
    return draft.draw.pick(["と話した", "と述べた", "と語った", "と話している", "とコメントした"])


def add_extras(draft, wanted, extras, sentences, most_sentences=4):
    """Add extra sentences, each introducing one more person, in random order, until the text has `wanted` persons
    or `most_sentences` sentences (no extra twice)."""
    pool = list(extras)
    while len(draft.persons) < wanted and len(sentences) < most_sentences and pool:
        sentences.append(pool.pop(draft.draw.rng.randrange(len(pool)))(draft))
    return sentences


def witness_line(draft):
    lead = draft.draw.pick(["現場近くに住む", "目撃した", "通報した", "近所の"])
    mention, _ = civilian(draft, lead=lead, addr_p=0.7)
    draft.tags.add("role:witness")
    return f"{mention}は{quote(draft, words.witness_quotes)}{said(draft)}。"


def expert_line(draft):  # commentary on society and politics comes from universities, not labs
    field_name = draft.draw.pick(["政治学", "経済学", "社会学", "労働経済学", "行政学", "国際関係論"])
    mention, _ = expert(draft, field_name, labs=False)
    return f"{mention}は{quote(draft, words.expert_quotes)}{draft.draw.pick(['と指摘している', 'と分析する', 'と話している'])}。"


def critic_line(draft):
    draw = draft.draw
    mention, _ = titled_person(draft, {"jp": 1}, draw.pick(["代表", "幹事長", "国対委員長"]), org=draw.pick(words.parties),
                               short_p=0.3)
    return f"{draw.pick(['これに対し、', '一方、', ''])}{mention}は{quote(draft, words.critic_quotes)}と批判した。"


def expert(draft, field_name=None, labs=True):
    draw = draft.draw
    person = draft.fresh_name(EXPERT_KINDS)
    univ, field_name = draw.pick(words.universities), field_name or draw.pick(words.fields)
    if person.kind in ("kata", "latin") and draw.chance(0.6):
        univ = draw.pick(["米スタンフォード大", "米マサチューセッツ工科大", "英オックスフォード大", "独ミュンヘン工科大"])
    forms = [f"{univ}の{person.full}教授（{field_name}）", f"{univ}の{person.full}准教授",
             f"{field_name}に詳しい{univ}の{person.full}教授", f"{univ}教授の{person.full}さん",
             f"{field_name}が専門の{univ}の{person.full}特任教授"]
    forms += ([f"{draw.pick(words.institutes)}の{person.full}主任研究員"] * labs
              + [f"{person.full}・{univ}教授"] * ("・" not in person.full and " " not in person.full))
    form = draw.pick(forms)
    draft.add_person(person.full, form)
    draft.tags.update({"role:expert", "mention:title"})
    return form, f"{person.short}{draw.pick(['教授', '氏'])}" if "教授" in form else f"{person.short}氏"


def athlete(draft, team=None, male=True, kinds=None):
    """A player, with or without the team in the mention. Team sports here are men's leagues."""
    draw = draft.draw
    person = draft.fresh_name(kinds or TEAM_KINDS, male)
    position = draw.pick(["選手", "選手", "投手", "内野手", "外野手"]) if team in words.baseball_teams else "選手"
    form = draw.pick([f"{person.full}{position}", f"{person.full}{position}{draft.age_mention(18, 38)}"])
    if team:
        form = draw.pick([f"{team}の{person.full}{position}", f"{person.full}{position}（{team}）",
                          f"{team}の{person.full}{position}{draft.age_mention(18, 38)}"]
                         + [f"{team}の新外国人、{person.full}選手"] * (person.kind in ("kata", "mononym")))
    draft.add_person(person.full, form)
    draft.tags.add("role:athlete")
    return form, f"{person.short}{position}"


def artist(draft, roles=None):
    draw = draft.draw
    person = draft.fresh_name({"jp": 88, "kata": 6, "initials": 6} if roles else ARTIST_KINDS)
    age = draft.age_mention(20, 75) if draw.chance(0.6) else ""
    if person.kind == "korean_kata":
        group = draw.pick(["STARLIGHT", "NOVA", "PRISM", "BLUEMOON"])
        form = f"韓国の人気グループ「{group}」のメンバー、{person.full}さん"
        draft.tags.add("dis:org")
    elif person.kind != "jp":  # "米歌手の", "英俳優の": foreign artists carry a country prefix
        country = draw.pick(["米", "英", "仏", ""])
        form = f"{country}{draw.pick(roles or ['歌手', '俳優', 'ピアニスト', 'バイオリニスト'])}の{person.full}さん{age}"
    elif draw.chance(0.12) and not roles:
        form = f"お笑いコンビ「{draw.pick(words.comedy_duos)}」の{person.full}さん{age}"
        draft.tags.add("dis:org")
    else:
        role = draw.pick(roles or ["俳優", "歌手", "タレント", "声優", "ピアニスト", "漫画家", "落語家", "バイオリニスト"])
        form = draw.pick([f"{role}の{person.full}さん{age}", f"{role}、{person.full}さん{age}",
                          f"{role}{person.full}さん{age}"])
    draft.add_person(person.full, form)
    draft.tags.add("role:artist")
    return form, f"{person.short}さん"


# ---------------------------------------------------------------- plain news: scene(draft, wanted) -> sentences, extras
# A plain scene writes its opening sentences and offers extra sentences, each bringing one more person; the record
# maker adds extras until the text names `wanted` persons (add_extras, with the scene's sentence limit).
def crime(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:crime")
    pref, city = draw.place()
    police = draw.police(pref, city)
    # "同署", "県警": as papers refer back
    police_again = "同署" if police.endswith("署") else police if police == "警視庁" else police[-2:]
    suspect, suspect_ref = civilian(draft, hon="容疑者", ages=(19, 79))
    if wanted >= 2 and draw.chance(0.3):  # "AとBの2人を逮捕": both are persons
        suspect, suspect_ref = f"{suspect}と、{civilian(draft, hon='容疑者', ages=(19, 79))[0]}の2人", "2人"
    act = draw.pick(words.crime_acts)
    if "{v}" in act:
        victim = civilian(draft, ages=(25, 92))[0] if wanted >= 2 and draw.chance(0.75) else anonymous_person(draft)
        act = act.replace("{v}", victim)
    act, day = act.replace("{m}", str(draw.number(3, 900))), draw.date(precise=True)
    sentences = [draw.pick([f"{police}は{day}、{act}疑いで、{suspect}を逮捕した。", f"{act}として、{police}は{day}、{suspect}を逮捕した。",
                            f"{day}、{act}疑いで{suspect}が{police}に逮捕された。",
                            f"{police}は{day}、{suspect}を{act}疑いで逮捕したと発表した。"])]
    place = f"{draw.city_as_written(pref, city)}の{draw.pick(['路上', '駐車場', 'コンビニエンスストア', '住宅街', '駅前', '公園'])}"
    sentences.append(draw.pick([
        f"{police_again}によると、{suspect_ref}は{quote(draft, words.admission_quotes)}と容疑を認めている。",
        f"{suspect_ref}は容疑を認めているという。",
        f"調べに対し、{suspect_ref}は{quote(draft, words.denial_quotes)}と容疑を否認しているという。",
        f"{police_again}によると、現場は{place}。",
        f"{police_again}は、{suspect_ref}が同様の事件に関わった可能性もあるとみて調べている。"]))
    if "現場は" in sentences[-1]:
        draft.tags.add("nores:event_place")
    accomplice = [] if suspect_ref == "2人" else [
        lambda draft: f"{police_again}は、一緒にいた{civilian(draft, hon='容疑者', ages=(19, 60))[0]}も同じ疑いで逮捕した。"]
    return sentences, [witness_line] + accomplice


def trial(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:crime")
    defendant, defendant_ref = civilian(draft, hon="被告", ages=(20, 80))
    court, charge, years = draw.pick(words.courts), draw.pick(words.charges), draw.number(2, 15)
    verdict = draw.pick([f"懲役{years}年（求刑懲役{years + draw.number(1, 4)}年）",
                         f"懲役{draw.number(1, 3)}年、執行猶予{draw.number(3, 5)}年", "無罪", f"罰金{draw.number(3, 90)}万円"])
    first_hearing = draw.chance(0.3)  # first hearing or verdict
    sentences = [f"{charge}の罪に問われた{defendant}の初公判が{draw.date()}、{court}で開かれた。" if first_hearing else
                 draw.pick([f"{charge}の罪に問われた{defendant}の判決で、{court}は{draw.date()}、{verdict}を言い渡した。",
                            f"{court}は{draw.date()}、{charge}の罪に問われた{defendant}に{verdict}の判決を言い渡した。"])]
    if first_hearing:
        sentences.append(draw.pick([f"{defendant_ref}は起訴内容を認めた。", f"{defendant_ref}は「間違いありません」と起訴内容を認めた。",
                                    f"{defendant_ref}側は無罪を主張した。"]))
    elif wanted >= 2:
        judge = titled_person(draft, {"jp": 1}, "裁判長", short_p=0.2)[0]
        reasons = (["犯罪の証明が不十分だ", "合理的な疑いが残る"] if verdict == "無罪"
                   else ["身勝手な犯行で、酌量の余地はない", "反省の態度を示している"])
        sentences.append(f"{judge}は{quote(draft, reasons)}と述べた。")
    else:
        sentences.append("検察側は控訴するかどうか検討する。" if verdict == "無罪" else
                         draw.pick([f"{defendant_ref}側は即日控訴した。",
                                    f"{defendant_ref}の弁護人は「判決内容を精査して対応を検討する」とコメントした。"]))
    lawyer_quotes = (["公判で主張を尽くしたい", "被告の言い分を丁寧に訴えていく"] if first_hearing
                     else ["主張が認められず残念だ", "判決を精査したい"])
    return sentences, [
        lambda draft: f"公判には{civilian(draft, addr_p=0.5)[0]}が証人として出廷した。",
        lambda draft: f"弁護人の{titled_person(draft, {'jp': 1}, '弁護士', short_p=0)[0]}は{quote(draft, lawyer_quotes)}と話した。"]


def accident(draft, wanted):
    draw = draft.draw
    kind = draw.pick(["crash", "walker", "pole", "fire", "mountain"])
    if kind == "fire":  # "〇〇さん方" is the person's home, so its place is a residence
        addr, level, pref, city = draw.address()
        police, person = draw.police(pref, city), draft.fresh_name(CIVILIAN_KINDS)
        age = draw.number(30, 95)
        job = occupation(draw, age, person.male, person.kind)
        mention = f"{addr}の{job}、{person.full}さん{draft.age_format.format(age)}方"
        draft.add_person(person.full, mention, addr, level)
        draft.tags.update({"res:kata", "topic:fire"})
        sentences = [f"{draw.date(precise=True)}、{mention}から出火し、木造2階建て住宅約{draw.number(40, 200)}平方メートルが全焼した。",
                     draw.pick([f"焼け跡から1人の遺体が見つかり、{police}は{person.short}さんとみて身元の確認を進めている。",
                                f"{person.short}さんと家族は逃げて無事だった。", f"{person.short}さんが顔に軽いやけどを負った。"])]
        return sentences, [witness_line]
    pref, city = draw.place()
    city_text, police = draw.city_as_written(pref, city), draw.police(pref, city)
    road = draw.pick([f"国道{draw.number(1, 499)}号", "県道", "市道の交差点", "交差点", "踏切"])
    vehicle, other_vehicle, day = (draw.pick(["乗用車", "軽乗用車", "トラック", "路線バス", "ワゴン車"]),
                                   draw.pick(["乗用車", "軽乗用車", "オートバイ", "原付きバイク"]), draw.date(precise=True))
    child = kind == "walker" and draw.chance(0.3)
    mention, ref = civilian(draft, ages=(18, 92), child=child)
    draft.tags.update({"topic:accident", "nores:event_place"})
    where = f"{day}、{city_text}の{road}で、"
    sentences = [{
        "crash": f"{where}{vehicle}と{other_vehicle}が衝突する事故があり、{other_vehicle}を運転していた{mention}が"
                 f"{draw.pick(words.injuries)}。",
        "walker": f"{where}歩いて道路を横断していた{mention}が{vehicle}にはねられ、{draw.pick(words.injuries)}。",
        "pole": f"{where}{other_vehicle}が電柱に衝突し、運転していた{mention}が{draw.pick(words.injuries)}。",
        "mountain": f"{day}、{draw.pick(['槍ケ岳', '穂高岳', '谷川岳', '八ケ岳', '大山'])}で、登山中の{mention}が滑落し、"
                    f"{draw.pick(words.injuries)}。"}[kind]]
    if kind == "mountain":
        return sentences, [lambda draft: f"一緒に登っていた{civilian(draft, addr_p=0.5)[0]}にけがはなかった。"]
    if wanted == 1:
        sentences.append(draw.pick([f"{police}が事故の原因を調べている。", "現場は見通しのよい直線道路。",
                                    f"{police}によると、{ref}は信号のない場所を渡っていた。" if kind == "walker"
                                    else f"{police}によると、{ref}は仕事から帰宅する途中だった。"]))

    def driver(draft):
        return (f"{police}は、{vehicle}を運転していた{civilian(draft, hon='容疑者', ages=(18, 85))[0]}を過失運転致傷の疑いで"
                "現行犯逮捕した。")

    def passenger(draft):
        return (f"同乗していた{civilian(draft, addr_p=0.3, child=draw.chance(0.3))[0]}も"
                f"{draw.pick(['軽いけがをした', '病院に運ばれた'])}。")

    return sentences, [witness_line] + {"crash": [driver, passenger], "walker": [driver], "pole": [passenger]}[kind]


def politics(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:politics")
    pref, city = draw.place()
    topic, form, day = (draw.pick(words.political_topics), draw.pick(["pm", "pm2", "party", "gov", "mayor", "diet"]),
                        draw.date())

    def minister(draft):
        mention = titled_person(draft, {"jp": 1}, draw.pick(words.ministers), short_p=0.3)[0]
        return f"{mention}も{day}の記者会見で{quote(draft, words.politician_quotes)}と述べた。"

    extras = [critic_line, expert_line, minister]
    if form in ("pm", "pm2"):
        prime_minister, ref = titled_person(draft, {"jp": 1}, "首相", short_p=0.5)
        if form == "pm2" and wanted >= 2:
            others = titled_person(draft, {"jp": 1}, draw.pick(words.ministers), short_p=0.3)[0]
            if wanted >= 3 and draw.chance(0.6):
                others += (draw.pick(["や", "、"])
                           + titled_person(draft, {"jp": 1}, draw.pick(words.ministers), short_p=0.3)[0])
            sentences = [f"{prime_minister}は{day}、首相官邸で{others}と会談し、{topic}について意見を交わした。"]
        else:
            sentences = [draw.pick([
                f"{prime_minister}は{day}、首相官邸で記者団の取材に応じ、{topic}について{quote(draft, words.politician_quotes)}と述べた。",
                f"{topic}をめぐり、{prime_minister}は{day}の衆院予算委員会で{quote(draft, words.politician_quotes)}と答弁した。"])]
    elif form == "party":
        mention, ref = titled_person(draft, {"jp": 1}, draw.pick(["幹事長", "代表", "政調会長", "国対委員長"]),
                                     org=draw.pick(words.parties), short_p=0.3)
        sentences = [f"{mention}は{day}の記者会見で、{topic}に関し{quote(draft, words.politician_quotes)}と語った。"]
    elif form == "gov":
        mention, ref = titled_person(draft, {"jp": 1}, "知事", org=pref, short_p=0.35)
        plan = draw.pick(["公立高校の授業料を独自に無償化する方針", "子どもの医療費助成を18歳まで広げる考え", "観光客向けの宿泊税を導入する方針",
                          "災害時の備蓄倉庫を増やす計画"])
        sentences, extras = [f"{mention}は{day}の定例記者会見で、{plan}を明らかにした。"], [expert_line]
    elif form == "mayor":
        mention, ref = mayor(draft, pref, city)
        sentences = [f"{mention}は{day}、{draw.pick(['定例会見', '地元の住民説明会', '記者会見'])}で、{topic}について"
                     f"{quote(draft, words.politician_quotes)}と述べた。"]
        extras = [expert_line]
    else:
        mention, ref = titled_person(draft, {"jp": 1}, draw.pick(["衆院議員", "参院議員"]), short_p=0.0)
        district = f"{pref if pref == '北海道' else pref[:-1]}{draw.number(1, 9)}区"  # "神奈川3区": a district, not a home
        mention = (f"{draw.pick(words.parties)}の{mention}（{district}）" if "衆院" in mention
                   else f"{draw.pick(words.parties)}の{mention}")
        sentences = [f"{mention}は{day}、{draw.city_as_written(pref, city)}で講演し、{topic}について"
                     f"{quote(draft, words.politician_quotes)}と述べた。"]
        draft.tags.add("nores:event_place")
    draft.tags.add("nores:office_place" if form in ("gov", "mayor") else "role:politician")
    if len(draft.persons) >= wanted and draw.chance(0.4):
        sentences.append(draw.pick([f"{ref}は{quote(draft, words.politician_quotes)}と強調した。",
                                    f"{ref}は今後、関係者と協議する方針だ。"]))
    return sentences, extras


def leader(draft, pre=""):
    """A foreign leader: '米国のジョン・スミス大統領', 'スミス米大統領', 'スミス元米大統領',
    '中国の王建華（ワン・ジエンホア）国家主席'. Returns (mention, ref, capital, country name)."""
    draw = draft.draw
    country = draw.pick(words.countries)
    title, person = draw.pick(country.titles), draft.fresh_name(country.name_kinds)
    reading = f"（{person.reading}）" if person.reading and draw.chance(0.5) else ""
    if person.short != person.full and draw.chance(0.5):
        mention = draw.pick([f"{person.short}{pre}{country.short}{title}",
                             f"{country.name}の{person.short}{pre}{title}"])
        draft.add_person(person.short, mention)
        draft.tags.add("mention:surname_only")
    else:
        mention = draw.pick([f"{country.name}の{person.full}{reading}{pre}{title}",
                             f"{pre}{country.short}{title}の{person.full}{reading}氏"]
                            + [f"{person.full}{reading}{pre}{country.short}{title}"]  # "王建華中国国家主席"
                            * ("・" not in person.full))
        draft.add_person(person.full, mention)
    draft.tags.update({"role:politician", "mention:title"})
    return mention, f"{person.short}{title}", country.capital, country.name


def international(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:international")
    form = draw.pick(["talk", "speech", "spokes", "visit", "death", "sns"])
    leader_mention, leader_ref, capital, country = leader(draft, pre="元" if form == "death" else "")
    if form == "death":  # nobody else belongs in this line
        return [f"{draw.pick(['ロイター通信', 'AP通信', '国営メディア'])}によると、{leader_mention}が{draw.date()}、死去した。"
                f"{draw.number(70, 99)}歳だった。"], []
    if form == "talk" and wanted >= 2:
        sentences = [f"{leader_mention}は{draw.date()}、{capital}で{leader(draft)[0]}と会談し、"
                     f"{draw.pick(words.international_topics)}について協議した。"]
    elif form == "visit" and wanted >= 2:
        sentences = [f"{titled_person(draft, {'jp': 1}, '首相', short_p=0.5)[0]}は{draw.date()}、来日中の{leader_mention}と"
                     f"首相官邸で会談し、{draw.pick(words.international_topics)}で連携を確認した。"]
    elif form == "spokes" and wanted >= 2:
        # another government comments on this leader
        other = draw.pick([other for other in words.countries if other.name not in (country, "台湾")])
        spokesperson = titled_person(draft, other.name_kinds, "報道官", org=f"{other.name}外務省", short_p=0.2)[0]
        sentences = [f"{spokesperson}は{draw.date()}の記者会見で、{leader_mention}の{draw.pick(['来日', '演説', '発言'])}について"
                     f"{quote(draft, words.politician_quotes)}と述べた。"]
    else:
        sentences = [draw.pick([
            f"{leader_mention}は{draw.date()}、{capital}で演説し、{draw.pick(words.international_topics)}について"
            f"{quote(draft, words.politician_quotes)}と述べた。",
            f"{leader_mention}は{draw.date()}、自身のSNSに{quote(draft, words.politician_quotes)}と投稿した。",
            f"{draw.pick(words.international_topics)}をめぐり、{leader_mention}は{draw.date()}、記者団に"
            f"{quote(draft, words.politician_quotes)}と語った。"])]
    return sentences, [expert_line, lambda draft: f"{leader_ref}は{draw.date()}、{leader(draft)[0]}とも電話で協議した。"]


def economy(draft, wanted):
    draw = draft.draw
    company, city_text = draw.company(famous=False), draw.city_as_written(*draw.place())
    draft.tags.update({"dis:company", "topic:economy", "role:executive"})
    plan = draw.pick(["来年春に新工場を稼働させる", f"国内で約{draw.number(1, 9)}00人を新たに採用する", "電気自動車向けの部品事業に参入する",
                      f"主力商品を{draw.number(2, 30)}年ぶりに値上げする", "東南アジアでの事業を拡大する", "希望退職者を募集する"])
    form = draw.pick(["hq", "based", "succession", "product"])
    if form == "succession" and wanted >= 2:
        company = draw.company()  # no place follows, so a real brand named after its founder fits here
        leaving, successor = draft.fresh_name(EXEC_KINDS), draft.fresh_name(EXEC_KINDS)
        leaving_mention = f"{leaving.full}社長{draft.age_mention(50, 75) if draw.chance(0.5) else ''}"
        successor_mention = f"{successor.full}{draw.pick(['専務', '副社長', '常務'])}"
        draft.add_person(leaving.full, leaving_mention)
        draft.add_person(successor.full, successor_mention)
        sentences = [f"{company}は{draw.date()}、{leaving_mention}が退任し、後任に{successor_mention}が昇格する人事を発表した。",
                     f"{successor.short}氏は{quote(draft, words.executive_quotes)}と抱負を語った。"]
    else:
        mention, ref = titled_person(draft, EXEC_KINDS, draw.pick(["社長", "社長", "会長", "副社長"]), org=company,
                                     short_p=0.25, short_joined=False)
        draft.tags.add("nores:company_place")
        if form == "product":
            product = draw.pick(["新型の電気自動車", "低価格のスマートフォン", "地元産の果物を使った菓子", "高齢者向けの見守りサービス"])
            sentences = [f"{company}（{city_text}）は{draw.date()}、{product}を発売すると発表した。",
                         f"{mention}は{quote(draft, words.executive_quotes)}{said(draft)}。"]
        elif form == "based" and mention.startswith(company):
            sentences = [f"{city_text}に本社を置く{mention}は{draw.date()}、{plan}と明らかにした。"]
        else:
            sentences = [f"{mention}は{draw.date()}、{city_text}の本社で記者会見し、{plan}と発表した。"]
        if len(sentences) == 1 and draw.chance(0.5):
            sentences.append(f"{ref}は{quote(draft, words.executive_quotes)}{said(draft)}。")

    def rival(draft):
        return (f"同業の{draw.faker_ja.company()}の{named_person(draft, '{N}社長', EXEC_KINDS)}も"
                f"{quote(draft, words.executive_quotes)}と話している。")

    return sentences, [expert_line, rival]


def sports(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:sports")
    if draw.chance(0.3):  # individual sports, any gender and nationality
        event = draw.pick(["女子ゴルフ", "男子ゴルフ", "テニス", "卓球", "フィギュアスケート", "柔道", "競泳"])
        male = True if event.startswith("男子") else False if event.startswith("女子") else None
        mention, ref = athlete(draft, male=male, kinds=SOLO_KINDS)
        result = draw.pick(["初優勝を飾った", "逆転で優勝した", "2連覇を達成した"])
        if draft.names[-1].kind == "jp" and draw.chance(0.3):
            mention = f"{draw.pick(words.prefectures)}出身の{mention}"
        draft.tags.update(["nores:birthplace"] * ("出身" in mention))
        sentences = [draw.pick([
            f"{event}の{draw.pick(['国際大会', '全日本選手権', 'ツアー大会'])}は{draw.date(plain=True)}、"
            f"{draw.city_as_written(*draw.place())}で行われ、{mention}が{result}。",
            f"{event}の{draw.pick(['国際大会', '全日本選手権', 'ツアー大会'])}で、{mention}が{draw.date(plain=True)}、{result}。"])]
        if len(draft.persons) < wanted or draw.chance(0.4):
            sentences.append(athlete_says(draft, ref, words.solo_athlete_quotes))
        return sentences, [
            lambda draft: f"{ref}を指導する{titled_person(draft, {'jp': 1}, 'コーチ', short_p=0)[0]}は"
                          f"{quote(draft, words.coach_quotes)}とたたえた。",
            lambda draft: f"2位には{athlete(draft, male=male)[0]}が入った。"]
    draft.tags.add("dis:team")
    baseball = draw.chance(0.55)
    team, opponent = draw.rng.sample(words.baseball_teams if baseball else words.soccer_teams, 2)
    form = draw.pick(["game", "game", "coach", "sign", "birth"])
    mention, ref = athlete(draft, None if form == "sign" else team)
    if baseball:
        play = draw.pick([f"今季{draw.number(1, 40)}号の本塁打を放った", f"{draw.number(5, 30)}試合連続安打を記録した",
                          f"先発して{draw.number(5, 9)}回無失点と好投し、今季{draw.number(2, 15)}勝目を挙げた"])
    else:
        play = draw.pick(["決勝ゴールを決めた", "2得点を挙げ、勝利に貢献した", "移籍後初ゴールを決めた"])
    if form == "sign":
        return [f"{team}は{draw.date(plain=True)}、{mention}と"
                f"{draw.pick(['来季の契約を結んだ', '新たに契約した', '契約を更新した'])}と発表した。"], []
    if form == "coach":
        coach = titled_person(draft, {"jp": 4, "kata": 1}, "監督", org=team, short_p=0.4, male=True)[0]
        return [f"{mention}が{draw.date(plain=True)}の{opponent}戦で{play}。",
                f"{coach}は試合後、{quote(draft, words.team_player_quotes)}と話した。"], []
    if form == "birth" and draft.names[-1].kind == "jp":  # a birthplace is not an address
        mention = f"{draw.pick(words.prefectures)}出身の{mention}"
        draft.tags.add("nores:birthplace")
    sentences = [f"{mention}が{draw.date(plain=True)}、{draw.pick(['本拠地での', '敵地での', ''])}{opponent}戦で{play}。"]
    if len(draft.persons) < wanted or draw.chance(0.4):
        sentences.append(athlete_says(draft, ref, words.team_player_quotes))
    return sentences, [
        lambda draft: f"{titled_person(draft, {'jp': 1}, '監督', short_p=0.4, male=True)[0]}は"
                      f"{quote(draft, words.coach_quotes)}とたたえた。",
        lambda draft: f"チームメートの{athlete(draft)[0]}も活躍した。"]


def athlete_says(draft, ref, quotes):
    """The athlete's own words after the event: 「…」と笑顔を見せた, と話した or と振り返った."""
    return f"{ref}は{quote(draft, quotes)}{draft.draw.pick(['と笑顔を見せた', 'と話した', 'と振り返った'])}。"


def entertainment(draft, wanted):
    draw = draft.draw
    draft.tags.update({"topic:entertainment", "dis:work"})
    work, city_text = f"「{draw.pick(words.works)}」", draw.city_as_written(*draw.place())
    form = draw.pick(["premiere", "sns", "voice", "tour", "director"])
    if form == "voice":  # a fictional character next to the real voice actor
        mention, ref = artist(draft, roles=["声優"])
        sentences = [f"人気アニメ「{draw.pick(words.anime)}」で主人公の{draw.pick(words.characters)}の声を担当する{mention}が"
                     f"{draw.date()}、{draw.pick(['結婚を発表した', '新作の収録を終えた', 'イベントに登場した'])}。"]
        draft.tags.add("dis:character")
    elif form == "director" and wanted >= 2:
        director = draft.fresh_name({"jp": 5, "kata": 1})
        draft.add_person(director.full, director_mention := f"{director.full}監督")
        mention, ref = artist(draft, roles=["俳優"])
        return [f"{director_mention}の新作映画{work}が{draw.date()}、公開された。",
                f"主演の{mention}は{quote(draft, words.artist_quotes)}と話した。"], [
            lambda draft: f"共演した{artist(draft, roles=['俳優'])[0]}も舞台あいさつに立った。"]
    else:
        mention, ref = artist(draft, roles=["俳優"] if form == "premiere" else None)
        sentences = [{
            "premiere": f"{mention}が{draw.date()}、{draw.pick([city_text + 'のホール', '東京都内の劇場', '都内のホテル'])}で開かれた"
                        f"主演映画{work}の完成披露試写会に出席した。",
            "sns": f"{mention}が{draw.date()}、自身のSNSで"
                   f"{draw.pick(['結婚したこと', '第1子が誕生したこと', '芸能活動を休止すること'])}を発表した。",
            "tour": f"{mention}が{draw.date()}、{city_text}で全国ツアーの初日公演を行い、約{draw.number(2, 9)}千人のファンが詰めかけた。",
            "director": f"{mention}が主演する映画{work}が{draw.date()}、公開された。"}[form]]
        draft.tags.add("nores:event_place")
    if len(draft.persons) < wanted or draw.chance(0.4):
        sentences.append(f"{ref}は{quote(draft, words.artist_quotes)}"
                         f"{draw.pick(['と笑顔を見せた', 'と話した', 'とファンに感謝した'])}。")
    extras = {"premiere": [lambda draft: f"共演した{artist(draft, roles=['俳優'])[0]}も登壇した。"],
              "sns": [lambda draft: f"親交のある{artist(draft)[0]}も自身のSNSで祝福した。"],
              "tour": [lambda draft: f"ゲストとして{artist(draft, roles=['歌手'])[0]}も出演した。"]}.get(form, [])
    return sentences, extras


def culture(draft, wanted):
    draw = draft.draw
    city_text, museum = (draw.city_as_written(*draw.place()),
                         draw.pick(["美術館", "歴史博物館", "歴史資料館", "郷土資料館"]))
    draft.tags.add("topic:culture")
    form = draw.pick(["hist", "hist", "novel", "artist"])
    if form == "hist":  # historical figures are persons too, written without honorifics
        figure = draft.fresh_name(["hist"])
        era = draw.pick(["江戸時代", "戦国時代", "明治時代", "鎌倉時代", "室町時代"])
        role, item = draw.pick([("武将", "書状"), ("武将", "甲冑"), ("絵師", "屏風絵"), ("絵師", "掛け軸"), ("俳人", "自筆の句帳"),
                                ("歌人", "和歌の短冊"), ("茶人", "茶わん"), ("蘭学者", "日記"), ("刀工", "太刀")])
        mention = draw.pick([f"{era}の{role}、{figure.full}", f"{role}・{figure.full}", f"{era}に活躍した{role}の{figure.full}"])
        draft.add_person(figure.full, mention)
        draft.tags.add("role:historical")
        story = draw.number(0, 2)
        sentences = [[f"{mention}の{item}が{city_text}の{museum}で{draw.number(10, 90)}年ぶりに公開されている。",
                      f"{mention}ゆかりの寺で{draw.date()}、法要が営まれ、多くの人が訪れた。",
                      f"{city_text}の{museum}は{draw.date()}、{mention}の作とみられる{item}が見つかったと発表した。"][story]]
        where = f"{city_text}の{museum}の" if story == 1 else "同館の"  # "同館" needs a museum mentioned before
        curator_quotes = ["貴重な史料で、研究が進むと期待される", "多くの人に見てもらいたい"]
        extras = [lambda draft: f"{where}{titled_person(draft, {'jp': 1}, '学芸員', short_p=0)[0]}は"
                                f"{quote(draft, curator_quotes)}と話している。",
                  lambda draft: f"{figure.full}の子孫にあたる{civilian(draft, addr_p=0.6, occs=[], kinds={'jp': 1})[0]}も訪れた。"]
    elif form == "novel":
        mention, _ = artist(draft, roles=["作家"])
        sentences = [f"{mention}の小説「{draw.pick(words.works)}」が{draw.pick(['本屋大賞', '文学新人賞', '児童文学賞'])}に選ばれた。"]
        extras = [lambda draft: f"選考委員で{named_person(draft, '作家の{N}さん')}は"
                                f"{quote(draft, ['時代を映す傑作だ', '新しい才能の登場を喜びたい'])}と評価した。"]
        draft.tags.add("dis:work")
    else:  # an artist's residence, possibly abroad ("パリ在住の画家"), next to the gallery's place
        mention, _ = civilian(draft, addr_p=0.8, occs=["画家", "写真家", "陶芸家", "彫刻家", "書家"], kinds={"jp": 1},
                              abroad_p=0.35)
        sentences = [f"{mention}の{draw.pick(['個展', '作品展'])}が{draw.date()}から、{city_text}の"
                     f"{draw.pick(['ギャラリー', '百貨店', museum])}で開かれている。"]
        draft.tags.add("nores:event_place")
        extras = [lambda draft: f"会場を訪れた{civilian(draft, addr_p=0.6)[0]}は"
                                f"{quote(draft, ['色使いがとても美しい', '元気をもらえた'])}と話した。"]
    return sentences, extras


def science(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:science")
    finding, field_name = draw.pick([
        ("iPS細胞から心臓の筋肉を効率よく作る方法を開発した", "再生医学"), ("深海の微生物が新しい種類の酵素を持つことを発見した", "微生物学"),
        ("睡眠不足が記憶の定着を妨げる仕組みを解明した", "脳科学"), ("太陽系外の惑星で水蒸気の兆候を捉えた", "天文学"),
        ("縄文時代の集落跡から国内最古級の漆器が見つかった", "考古学"), ("高温でも枯れにくい稲の遺伝子を特定した", "植物生理学"),
        ("南海トラフ沿いでゆっくりとした地殻変動が続いていることが分かった", "地震学")])
    mention, ref = expert(draft, field_name)
    sentences = [draw.pick([f"{mention}らの研究グループは{draw.date()}、{finding}と発表した。",
                            f"{mention}らのチームが{finding}と、{draw.date(plain=True)}付の英科学誌に発表した。",
                            f"{finding}と、{mention}らが{draw.date()}発表した。"])]
    if len(draft.persons) < wanted or draw.chance(0.4):
        sentences.append(f"{ref}は{quote(draft, words.scientist_quotes)}{said(draft)}。")
    return sentences, [
        lambda draft: f"研究には{expert(draft, field_name)[0]}らも参加した。",
        lambda draft: f"{expert(draft, field_name)[0]}は{quote(draft, ['画期的な成果だ', 'さらなる検証が必要だ'])}と評価している。"]


def local(draft, wanted):
    draw = draft.draw
    pref, city = draw.place()
    city_text = draw.city_as_written(pref, city)
    draft.tags.add("topic:local")
    form = draw.pick(["awards", "crop", "birthday", "donate", "festival", "lecture", "home"])
    extras = [witness_line]
    if form == "awards" and wanted >= 2:  # several residents in one list
        contest = draw.pick(["市民写真コンテスト", "書道展", "作文コンクール", "俳句大会", "料理コンテスト"])
        winner, runners_up = civilian(draft, addr_p=0.8)[0], civilian(draft, addr_p=0.8, child=draw.chance(0.3))[0]
        if wanted >= 3 and draw.chance(0.6):
            runners_up += "と" + civilian(draft, addr_p=0.8)[0]
        sentences = [f"{city_text}の{contest}の表彰式が{draw.date()}に開かれ、最優秀賞に{winner}、優秀賞に{runners_up}が選ばれた。"]
        extras = [lambda draft: f"審査員特別賞には{civilian(draft, addr_p=0.8)[0]}が選ばれた。"]
    elif form == "crop":
        mention, ref = civilian(draft, addr_p=0.85, occs=["農業", "農家", "果樹農家"], home=(pref, city))
        crop = draw.pick(["イチゴ", "メロン", "米", "トマト", "りんご", "梨", "ブドウ", "茶"])
        sentences = [f"{mention}が育てた{crop}が、{pref}の品評会で最高賞に選ばれた。",
                     f"{ref}は{quote(draft, words.civilian_quotes)}{said(draft)}。"]
        extras = [lambda draft: f"審査委員長を務めた{named_person(draft, '{N}さん')}は"
                                f"{quote(draft, ['味も見た目も申し分ない', '生産者の努力の成果だ'])}と評価した。",
                  lambda draft: f"{mayor(draft, pref, city)[0]}も{quote(draft, words.local_official_quotes)}と祝福した。"]
    elif form == "birthday":
        mention, ref = civilian(draft, ages=(100, 100), addr_p=0.9, occs=[], home=(pref, city))
        sentences = [f"{mention}が{draw.date()}、100歳の誕生日を迎えた。"]
        extras = [lambda draft: f"{mayor(draft, pref, city)[0]}が訪れ、祝い状と記念品を手渡した。"]
    elif form == "donate":  # the facility's city is not the donor's residence
        mention, ref = civilian(draft, addr_p=0.75)
        facility, head = draw.pick([("児童養護施設", "施設長"), ("小学校", "校長"), ("市立図書館", "館長"), ("病院", "院長")])
        sentences = [f"{mention}が{draw.date()}、{city_text}の{facility}に"
                     f"{draw.pick(['絵本100冊', '現金50万円', '車いす10台'])}を寄贈した。"]
        extras = [lambda draft: f"{titled_person(draft, {'jp': 1}, head, short_p=0.3)[0]}は"
                                f"{quote(draft, ['大切に使わせていただきます', '子どもたちも喜ぶと思う'])}と感謝した。"]
        draft.tags.add("nores:facility_place")
    elif form == "festival":  # a place named like a surname is still a place
        mention, ref = civilian(draft, addr_p=0.5)
        sentences = [f"{draw.place_with_surname()}で{draw.date()}、伝統の{draw.pick(['秋祭り', '盆踊り', 'どんど焼き', '夏祭り'])}が"
                     f"開かれ、{mention}ら約{draw.number(2, 9)}0人が参加した。"]
        draft.tags.update({"dis:place_surname", "nores:event_place"})
        extras = [lambda draft: f"実行委員長の{named_person(draft, '{N}さん')}は"
                                f"{quote(draft, ['伝統を次の世代につなぎたい', '天候に恵まれてよかった'])}と話した。"]
    elif form == "home":  # "自宅" states a residence
        addr, level, _, _ = draw.address()
        person = draft.fresh_name(CIVILIAN_KINDS)
        age = draw.number(20, 95)
        mention = f"{person.full}さん{draft.age_format.format(age)}"
        draft.add_person(person.full, mention, addr, level)
        draft.tags.update({"res:jitaku", "mention:age"})
        sentences = [f"{draw.date(precise=True)}、{addr}の自宅で{occupation(draw, age, person.male, person.kind)}の{mention}が"
                     f"倒れているのが見つかり、{draw.pick(['死亡が確認された', '病院に運ばれた'])}。"]
    else:
        mention, ref = civilian(draft, addr_p=0.5)
        sentences = [f"{mention}が{draw.date()}、{city_text}で開かれた"
                     f"{draw.pick(['防災講座', '子育てフォーラム', '環境シンポジウム'])}で講演した。"]
        draft.tags.add("nores:event_place")
        extras = [lambda draft: f"会場には{civilian(draft, addr_p=0.6)[0]}ら約{draw.number(2, 9)}0人が集まった。"]
    return sentences, extras


def obituary(draft, wanted):
    draw = draft.draw
    draft.tags.add("topic:obituary")
    person = draft.fresh_name({"jp": 1})
    while not person.reading:  # the classic line carries the reading: "山田太郎さん（やまだ・たろう＝作家）"
        draft.names.pop()
        person = draft.fresh_name({"jp": 1})
    role = draw.pick([f"元{draw.company()}社長", "作家", "元プロ野球選手", "元衆院議員", "俳人", "日本画家", "元小学校長"])
    cause, age, birth_pref = (draw.pick(["肺炎", "心不全", "老衰", "がん", "腎不全"]), draw.number(60, 101),
                              draw.pick(words.prefectures))
    form = draw.pick(["classic", "plain", "late"])
    mention = {"classic": f"{person.full}さん（{person.reading}＝{role}）", "plain": f"{role}の{person.full}さん",
               "late": f"{role}で{birth_pref}出身の{person.full}さん"}[form]
    draft.add_person(person.full, mention)
    draft.tags.update({"nores:birthplace", "mention:reading" if form == "classic" else "mention:occupation"})
    sentences = [{"classic": f"{mention}{draw.date()}、{cause}のため死去、{age}歳。{birth_pref}出身。",
                  "plain": f"{mention}が{draw.date()}、{cause}のため{draw.pick(words.prefectures)}内の病院で死去した。{age}歳だった。",
                  "late": f"{mention}が{draw.date()}、{cause}のため死去していたことが分かった。{age}歳だった。"}[form]]
    return sentences, [lambda draft: f"親交のあった{artist(draft, roles=['作家', '俳優', '歌手'])[0]}は"
                                     f"{quote(draft, ['寂しくてたまらない', '多くのことを教わった'])}と悼んだ。"]


def missing(draft, wanted):
    """Missing, found and rescued persons: police releases that give the home at every level."""
    draw = draft.draw
    draft.tags.add("topic:local")
    pref, city = draw.place()
    police, day = draw.police(pref, city), draw.date(precise=True)
    form = draw.pick(["missing", "found", "rescue", "heat"])
    mention, ref = civilian(draft, addr_p=0.92, ages=(18, 92), levels=ADDRESS_LEVEL_WEIGHTS,
                            home=(pref, city) if form == "missing" else None)
    sentences = [{
        "missing": f"{police}は{draw.date()}、{mention}が{day}から行方不明になっていると発表した。",
        "found": f"{day}、{draw.pick(['山林', '河川敷', '海岸', '用水路'])}で、行方が分からなくなっていた{mention}が見つかった。",
        "rescue": f"{day}、{draw.pick(['川で流された', '山で道に迷った', '海で沖に流された'])}{mention}が救助された。",
        "heat": f"{day}、{draw.city_as_written(pref, city)}の畑で{mention}が倒れているのが見つかり、"
                f"{draw.pick(['熱中症の疑いで病院に運ばれた', 'その後、死亡が確認された'])}。"}[form]]
    if form == "missing":
        sentences.append(f"{ref}は身長約{draw.number(140, 185)}センチで、"
                         f"{draw.pick(['紺色の上着', '白いシャツ', '黒いズボン'])}を着ていたという。")
    else:
        sentences.append(draw.pick([f"{police}によると、{ref}に大きなけがはないという。"] * (form != "heat")
                                   + [f"{police}が当時の状況を詳しく調べている。"]))
    return sentences, [lambda draft: f"一緒にいた{civilian(draft, addr_p=0.8)[0]}は自力で助けを求めた。", witness_line]


# ---------------------------------------------------------------- hard shapes of real news: scene(draft, wanted)
# Real news often names a person only by the surname (a second mention read alone), by a ring or stage name, in a
# list, by a foreign name with nothing around it, or deep inside a long sentence; these scenes make those common.
# Each picks one of its forms first and writes it whole; the forms share the scene's date and place.
def surname_only(draft, template, kinds=None, male=None, address=None, level=None):
    """A person named by the surname alone ({S} in the template, with its title or suffix); the answer is the
    surname. Returns (mention, name)."""
    person = draft.fresh_name(kinds or {"jp": 1}, male, lone=True)
    mention = template.format(S=person.short)
    draft.add_person(person.short, mention, address, level)
    draft.tags.update(["mention:surname_only", "shape:lone_surname"]
                      + ["shape:kata_alone"] * (person.kind in ("kata", "korean_kata")))
    return mention, person


def game_play(draw, baseball, avoid=""):
    """A play of a baseball or soccer game; avoid= a sentence whose play must not be told twice."""
    plays = [play for play in words.game_plays["baseball" if baseball else "soccer"]
             if play.split("{")[-1][2:] not in avoid]
    return draw.pick(plays).format(i=draw.number(1, 9), k=draw.number(1, 40), j=draw.number(5, 8), m=draw.number(3, 45))


def voice_mention(draft, lead=""):
    """A resident in an interview by surname only ('横浜市の会社員、田中さん（45）'), with a residence or without."""
    draw = draft.draw
    age, addr_p = draw.number(20, 85), 0.8
    age_text = draft.age_format.format(age) if draw.chance(0.85) else ""
    job = occupation(draw, age, draw.chance(0.5), "jp")
    if draw.chance(addr_p) and not lead:
        addr, level, _, _ = draw.address(CALM_LEVELS)
        template = draw.pick([f"{addr}の{job}、{{S}}さん{age_text}", f"{addr}に住む{{S}}さん{age_text}",
                              f"{addr}在住の{job}、{{S}}さん{age_text}", f"{addr}の{{S}}さん{age_text}",
                              f"{addr}で暮らす{{S}}さん{age_text}"])
        return surname_only(draft, template, address=addr, level=level)[0]
    template = draw.pick([f"{job}の{{S}}さん{age_text}", f"{{S}}さん{age_text}",
                          f"{draw.pick(words.prefectures)}出身の{{S}}さん{age_text}", f"近くに住む{{S}}さん{age_text}"])
    draft.tags.update(["nores:birthplace"] * ("出身" in template) + ["nores:nearby"] * ("近く" in template))
    return lead + surname_only(draft, template)[0]


def lone(draft, wanted):
    """Texts whose only mention of a person is the surname: with a title or suffix, or alone in sports ('大谷は')."""
    draw = draft.draw
    form = draw.weighted({"pol": 5, "sports": 6, "crime": 5, "trial": 2, "exec": 3, "voice": 10, "expert": 2,
                          "royal": 1})
    day, pref, city = draw.date(), *draw.place()
    if form == "pol":
        draft.tags.add("topic:politics")
        title = draw.pick(words.political_titles)
        office = {"知事": f"{pref}の", "市長": f"{draw.city_as_written(pref, city)}の" if city.endswith("市") else ""}
        org = office.get(title, "") * draw.chance(0.3)
        mention, _ = surname_only(draft, org + "{S}" + title)
        draft.tags.update(["nores:office_place"] * bool(org))
        if wanted >= 2:
            other_title = draw.pick([other for other in words.political_titles if other != title] + ["氏"])
            other = surname_only(draft, "{S}" + other_title)[0]
            sentences = [f"{mention}は{day}、{draw.pick(['首相官邸で', '国会内で', '都内で', ''])}{other}と会談し、"
                         f"{draw.pick(words.political_topics)}について意見を交わした。"]
        else:
            sentences = [draw.pick([
                f"{mention}は{day}の{draw.pick(words.statement_venues)}、{draw.pick(words.political_topics)}について"
                f"{quote(draft, words.politician_quotes)}と述べた。",
                f"{draw.pick(words.political_topics)}をめぐり、{mention}は{day}、{quote(draft, words.politician_quotes)}と語った。",
                f"{mention}は{day}、{draw.pick(words.political_topics)}に関して{quote(draft, words.politician_quotes)}"
                "と強調した。"])]
        if wanted >= 3:
            present = surname_only(draft, "{S}" + draw.pick(["副大臣", "政務官", "氏"]))[0]
            sentences.append(f"同席した{present}も{quote(draft, words.politician_quotes)}と述べた。")
        return sentences
    if form == "sports":
        draft.tags.update({"topic:sports", "dis:team", "role:athlete"})
        baseball = draw.chance(0.55)
        team, opponent = draw.rng.sample(words.baseball_teams if baseball else words.soccer_teams, 2)
        position = draw.pick(["選手", "投手"] if baseball else ["選手"])
        template = draw.weighted({"{S}": 55, "{S}" + position: 25, f"{team}の{{S}}": 20})
        mention, player = surname_only(draft, template, male=True)
        game_day = draw.date(plain=True)
        sentences = [draw.pick([f"{mention}は{game_day}の{opponent}戦で、{game_play(draw, baseball)}。",
                                f"{mention}が{game_day}、{opponent}戦で{game_play(draw, baseball)}。"])]
        if wanted >= 2 and draw.chance(0.6):
            teammate = surname_only(draft, "{S}", male=True)[0]
            sentences.append(f"{teammate}も{game_play(draw, baseball, avoid=sentences[0])}。")
        if len(draft.persons) < wanted:
            sentences.append(f"{surname_only(draft, '{S}監督', male=True)[0]}は{quote(draft, words.coach_quotes)}と話した。")
        elif draw.chance(0.4):
            sentences.append(f"{player.short}は{quote(draft, words.team_player_quotes)}と振り返った。")
        return sentences
    if form in ("crime", "trial"):
        draft.tags.update({"topic:crime", "role:suspect"})
        police = draw.police(pref, city)
        hon = "容疑者" if form == "crime" else "被告"
        mention, suspect = surname_only(draft, "{S}" + hon, CIVILIAN_KINDS)
        if form == "crime":
            sentences = [draw.pick([
                f"{police}によると、{mention}は{quote(draft, words.admission_quotes)}と容疑を認めている。",
                f"調べに対し、{mention}は{quote(draft, words.denial_quotes)}と容疑を否認しているという。",
                f"{police}は{day}、{mention}を{draw.pick(words.charges)}の疑いで再逮捕した。",
                f"{police}は{day}、{mention}の自宅を家宅捜索した。",
                f"{mention}は{day}、{draw.pick(words.charges)}の疑いで送検された。"])]
            if wanted >= 2:
                victim = surname_only(draft, "{S}さん", CIVILIAN_KINDS)[0] if draw.chance(0.5) else civilian(draft)[0]
                sentences.append(f"{police}は、{suspect.short}容疑者が{victim}"
                                 f"{draw.pick(['とトラブルになっていたとみて調べている。', 'を狙った可能性があるとみている。'])}")
            return sentences
        court = draw.pick(words.courts)
        sentences = [draw.pick([
            f"{draw.pick(words.charges)}の罪に問われた{mention}の{draw.pick(['初公判', '判決公判', '論告求刑公判'])}が{day}、"
            f"{court}で開かれた。",
            f"{court}は{day}、{mention}に懲役{draw.number(2, 15)}年の判決を言い渡した。",
            f"{mention}は{day}、{court}で開かれた初公判で起訴内容を認めた。"])]
        if wanted >= 2:
            sentences.append(f"{surname_only(draft, '{S}裁判長')[0]}は"
                             f"{quote(draft, ['身勝手な犯行で、酌量の余地はない', '反省の態度を示している'])}と述べた。")
        return sentences
    if form == "exec":
        draft.tags.update({"topic:economy", "role:executive", "dis:company"})
        company, title = draw.company(), draw.pick(["社長", "社長", "会長", "副社長", "CEO", "頭取"])
        mention = surname_only(draft, draw.pick([f"{company}の{{S}}{title}", f"{{S}}{title}"]),
                               {"jp": 85, "kata": 10, "korean_kata": 5})[0]
        plan = draw.pick(["来年春に新工場を稼働させる", "国内で新たに採用を増やす", "主力商品を値上げする", "東南アジアでの事業を拡大する"])
        return [f"{mention}は{day}、{draw.pick(['記者会見で', '決算会見で', '報道各社のインタビューで'])}、{plan}考えを明らかにした。"]
    if form == "royal":  # members of the imperial family are named by the given name alone: "〇〇さま"
        draft.tags.update({"topic:local", "mention:given_only", "shape:lone_surname"})
        while True:
            given = draw.pick(words.given_female if draw.chance(0.6) else words.given_male)[0]
            if len(given) >= 2:
                break
        draft.names.append(Name(given, given, "", "royal"))
        draft.add_person(given, mention := f"{given}さま")
        return [draw.pick([
            f"{mention}は{day}、{draw.city_as_written(pref, city)}を訪れ、"
            f"{draw.pick(['福祉施設の利用者らと交流された', '伝統工芸の工房を視察された', '被災地の復興状況について説明を受けられた'])}。",
            f"{mention}は{day}、{draw.pick(['全国大会の開会式に出席し、', '記念式典に臨み、'])}あいさつされた。"])]
    if form == "expert":
        draft.tags.update({"role:expert", "mention:title"})
        template = draw.pick([f"{draw.pick(words.universities)}の{{S}}教授", f"{{S}}教授（{draw.pick(words.fields)}）",
                              "{S}准教授", "{S}弁護士", "{S}医師"])
        mention = surname_only(draft, template, EXPERT_KINDS)[0]
        return [f"{draw.pick(words.political_topics + words.international_topics)}について、{mention}は"
                f"{quote(draft, words.expert_quotes)}{draw.pick(['と指摘する', 'と話す', 'と分析している'])}。"]
    draft.tags.add("topic:local")  # residents in an interview, by surname only
    lead = draw.pick([f"{draw.pick(['食料品の値上がり', 'ガソリン価格の高騰', '路線バスの減便', '新しい図書館の開館'])}をめぐり、",
                      "", ""])
    sentences = [f"{lead}{voice_mention(draft)}は{quote(draft, words.civilian_quotes + words.witness_quotes)}"
                 f"{said(draft)}。"]
    if wanted >= 2:
        sentences.append(f"{voice_mention(draft)}も{quote(draft, words.civilian_quotes + words.witness_quotes)}と話した。")
    return sentences


def stage(draft, wanted):
    """Persons named by a ring name, stage name or single name: sumo wrestlers, comedians, singers, rakugo, monks."""
    draw = draft.draw
    draft.tags.add("shape:stage_name")
    form = draw.weighted({"sumo": 36, "comedian": 18, "artist": 14, "pen": 8, "rakugo": 10, "soccer": 9, "monk": 5})
    day, city_text = draw.date(), draw.city_as_written(*draw.place())
    if form == "sumo":
        draft.tags.update({"topic:sports", "role:athlete"})
        wrestler = draft.fresh_name(["sumo"])
        tournament, day_number = draw.pick(words.sumo_tournaments), draw.number(2, 14)  # day 1 is 初日, day 15 千秋楽
        rank = draw.pick(words.sumo_ranks + [f"前頭{draw.number(1, 17)}枚目"])
        mention = draw.pick([f"{rank}{wrestler.full}", f"{rank}{wrestler.full}（{draw.pick(words.sumo_stables)[:-2]}）",
                             f"{wrestler.full}"])
        draft.add_person(wrestler.full, mention)
        if wanted >= 2:
            opponent = draft.fresh_name(["sumo"])
            opponent_mention = f"{draw.pick(words.sumo_ranks + ['前頭'])}{opponent.full}"
            draft.add_person(opponent.full, opponent_mention)
            wins = draw.number(1, day_number)
            sentences = [draw.pick([
                f"大相撲{tournament}{day_number}日目の{draw.date(plain=True)}、{mention}は{opponent_mention}を"
                f"{draw.pick(words.sumo_winning_techniques)}で破り、{wins}勝{day_number - wins}敗とした。",
                f"大相撲{tournament}は{draw.date(plain=True)}、{day_number}日目を迎え、{mention}が{opponent_mention}を"
                f"{draw.pick(words.sumo_winning_techniques)}で下した。"])]
            if draw.chance(0.4):
                sentences.append(f"{wrestler.full}は{quote(draft, words.sumo_wrestler_quotes)}と話した。")
            return sentences
        birth = draw.pick(words.prefectures + ["モンゴル"] * 4)  # a birthplace, never an address
        draft.tags.add("nores:birthplace")
        if draw.chance(0.3):  # away from the ring: "豊昇龍関"
            draft.persons[-1]["first"] = f"{wrestler.full}関"
            return [f"{birth}出身の{wrestler.full}関が{day}、{city_text}の小学校を訪れ、子どもたちと交流した。"]
        return [draw.pick([f"日本相撲協会は{day}、{birth}出身の{mention}の大関昇進を正式に決めた。",
                           f"{tournament}で初優勝した{birth}出身の{mention}が{day}、一夜明けの会見に臨み、"
                           f"{quote(draft, words.sumo_wrestler_quotes)}と話した。"])]
    if form == "soccer":
        draft.tags.update({"topic:sports", "role:athlete", "dis:team"})
        team, opponent = draw.rng.sample(words.soccer_teams, 2)
        player = draft.fresh_name(["mononym"])
        mention = draw.pick([f"{team}の{player.full}", player.full, f"{team}のFW{player.full}"])
        draft.add_person(player.full, mention)
        sentences = [f"{mention}が{draw.date(plain=True)}の{opponent}戦で{game_play(draw, False)}。"]
        if wanted >= 2:
            sentences.append(f"{draft.fresh_name(['mononym']).full}も{game_play(draw, False)}。")
            draft.add_person(draft.names[-1].full, draft.names[-1].full)
        return sentences
    if form == "monk":
        draft.tags.update({"topic:culture", "role:historical"})
        monk = draft.fresh_name(["monk"])
        era = draw.pick(["江戸時代", "室町時代", "鎌倉時代"])
        draft.add_person(monk.full, mention := draw.pick([f"{era}の僧、{monk.full}", f"画僧の{monk.full}", f"{monk.full}上人"]))
        return [f"{mention}が{draw.pick(['描いたとされる掛け軸', '残した書状', '彫ったとされる仏像'])}が、{city_text}の寺で見つかった。"]
    draft.tags.update({"topic:entertainment", "role:artist"})
    if form == "pen":  # pen names in hiragana: "たなかゆうこ"
        author = draft.fresh_name(["pen"])
        role = draw.pick(["絵本作家", "漫画家", "イラストレーター", "作詞家", "詩人"])
        draft.add_person(author.full, mention := draw.pick([f"{role}の{author.full}さん", f"{role}、{author.full}さん"]))
        work = f"「{draw.pick(words.works)}」"
        draft.tags.add("dis:work")
        return [draw.pick([f"{mention}の原画展が{day}から、{city_text}の美術館で開かれている。",
                           f"{mention}が手がけた{work}が{draw.pick(['児童文学賞', '漫画賞'])}に選ばれた。",
                           f"{work}で知られる{mention}が{day}、{draw.pick(['老衰', '心不全', '肺炎'])}のため死去した。"
                           f"{draw.number(70, 99)}歳だった。"])]
    kind, role = {"comedian": ("comedian", draw.pick(["お笑い芸人", "ピン芸人", "タレント", "お笑いコンビ「{combo}」"])),
                  "artist": ("mono_artist", draw.pick(["歌手", "シンガーソングライター", "モデル", "ダンサー", "ラッパー"])),
                  "rakugo": (draw.pick(["rakugo", "kabuki"]), "")}[form]
    performer = draft.fresh_name([kind])
    role = role.format(combo=draw.pick(words.comedy_duos)) or ("落語家" if kind == "rakugo" else "歌舞伎俳優")
    draft.tags.update(["dis:org"] * ("コンビ" in role))
    hon = draw.pick(["さん", "さん", ""])
    mention = draw.pick([f"{role}の{performer.full}{hon}"] + [f"{role}、{performer.full}{hon}"] * ("コンビ" not in role))
    if wanted >= 2 and "コンビ" in role:
        partner = draft.fresh_name([kind])
        draft.add_person(performer.full, mention)
        mention += f"と{partner.full}{hon}"
        draft.add_person(partner.full, f"{partner.full}{hon}")
    else:
        draft.add_person(performer.full, mention)
    staged = {"rakugo": ["襲名披露公演を行った", "独演会を開いた"], "kabuki": ["襲名披露公演を行った", "新作歌舞伎に主演した"]}.get(
        kind, ["全国ツアーの初日公演を行った", "イベントに登場した", "ファンミーティングを開いた"])  # these take a place
    unplaced = ["自身のSNSで結婚を発表した", "新曲を配信した", "芸能活動の休止を発表した"] if form != "rakugo" else ["芸術選奨を受賞した"]
    sentences = [draw.pick([f"{mention}が{day}、{draw.pick(unplaced)}。",
                            f"{mention}が{day}、{city_text}で{draw.pick(staged)}。"])]
    if len(draft.persons) < wanted or draw.chance(0.4):
        sentences.append(f"{performer.full}{hon}は{quote(draft, words.artist_quotes)}と話した。")
    return sentences


def family(draft, size, addr):
    """`size` members of one family sharing a surname: '夫の…さん（78）、妻の…さん（75）'; all live at addr."""
    draw = draft.draw
    while True:
        head = draw.japanese_name(male=True)
        if not any(head.short in other.full or other.short in head.full for other in draft.names):
            break
    roles, mentions = ["", "妻の", "長男の", "長女の", "次男の", "母親の"], []
    for index in range(size):
        while True:
            member = head if index == 0 else draw.japanese_name(male=index in (2, 4))
            full = head.short + member.full[len(member.short):] if index else head.full
            if full not in [person["name"] for person in draft.persons]:
                break
        draft.names.append(Name(full, full, "", "jp", index in (0, 2, 4)))
        age = draw.number(60, 90) if index < 2 else draw.number(20, 55)
        mention = f"{roles[index]}{full}さん{draft.age_format.format(age)}"
        draft.add_person(full, mention, addr[0], addr[1])
        mentions.append(mention)
    return "、".join(mentions)


def roster(draft, wanted):
    """Lists of three to six persons in one sentence: rankings, casts, cabinets, lineups, winners, suspects,
    families."""
    draw = draft.draw
    draft.tags.add("shape:list")
    size = draw.weighted({3: 40, 4: 30, 5: 18, 6: 12})
    form = draw.weighted({"golf": 3, "race": 2, "cast": 3, "cabinet": 3, "lineup": 3, "election": 2, "awards": 4,
                          "suspects": 5, "family": 3, "victims": 4, "sumo": 2, "medals": 2, "hist": 2})
    day, pref, city = draw.date(), *draw.place()
    city_text = draw.city_as_written(pref, city)

    def members(kinds, template="{N}", surname=False, male=None, count=size):
        listed = []
        for _ in range(count):
            person = draft.fresh_name(kinds, male, lone=surname)
            answer = person.short if surname else person.full
            mention = template.format(N=answer)
            draft.add_person(answer, mention)
            listed.append(mention)
        draft.tags.update(["mention:surname_only", "shape:lone_surname"] * surname)
        return listed

    if form == "golf":
        draft.tags.update({"topic:sports", "role:athlete"})
        event = draw.pick(["女子ゴルフ", "男子ゴルフ"])
        mentions = members(SOLO_KINDS if event == "女子ゴルフ" else {"jp": 9, "kata": 1}, surname=draw.chance(0.45),
                           male=event == "男子ゴルフ")
        return [f"{event}の{draw.pick(['国内ツアー', 'メジャー大会', 'ツアー大会'])}は{draw.date(plain=True)}、"
                f"第{draw.number(1, 3)}ラウンドが行われ、"
                f"{mentions[0]}が首位に立った。{'、'.join(mentions[1:])}が{draw.number(1, 3)}打差で続く。"]
    if form == "race":
        draft.tags.update({"topic:sports", "role:athlete"})
        race, male = draw.pick([("大阪国際女子マラソン", False), ("名古屋ウィメンズマラソン", False), ("日本選手権の男子1万メートル", True),
                                ("別府大分毎日マラソン", True), ("日本選手権の女子100メートル", False), ("全日本実業団対抗駅伝の1区", True)])
        mentions = members({"jp": 8, "kata": 1}, surname=draw.chance(0.3), male=male, count=min(size, 4))
        rest = "、".join(f"{place + 2}位は{mention}" for place, mention in enumerate(mentions[1:]))
        return [f"{race}は{draw.date(plain=True)}に行われ、{mentions[0]}が優勝した。{rest}だった。"]
    if form == "cast":
        draft.tags.update({"topic:entertainment", "role:artist", "dis:work"})
        hon = draw.pick(["さん", ""])
        mentions = members({"jp": 85, "kata": 5, "mono_artist": 5, "comedian": 5}, "{N}" + hon)
        work = f"「{draw.pick(words.works)}」"
        return [draw.pick([f"映画{work}の完成披露試写会が{day}、都内で開かれ、{'、'.join(mentions)}らが登壇した。",
                           f"ドラマ{work}の新たな出演者として、{'、'.join(mentions)}の{size}人が発表された。",
                           f"{day}公開の映画{work}には{'、'.join(mentions)}らが出演している。"])]
    if form == "cabinet":
        draft.tags.update({"topic:politics", "role:politician", "mention:title"})
        posts = draw.rng.sample(words.ministers, min(size, 5))
        if draw.chance(0.5):  # "官房長官に田村一郎氏、外相に…": full names
            prime_minister = surname_only(draft, "{S}首相")[0]
            mentions = members({"jp": 1}, "{N}氏", count=len(posts))
            appointed = "、".join(f"{post}に{mention}" for post, mention in zip(posts, mentions))
            return [f"{prime_minister}は{day}、内閣改造を行い、{appointed}を起用した。"]
        mentions = [surname_only(draft, "{S}" + post)[0] for post in posts]  # "田村官房長官、北野外相、…": surnames and posts
        return [draw.pick([f"{day}の閣議には{'、'.join(mentions)}らが出席した。",
                           f"政府は{day}、{'、'.join(mentions)}による関係閣僚会議を開いた。"])]
    if form == "lineup":
        draft.tags.update({"topic:sports", "role:athlete", "dis:team"})
        if draw.chance(0.5):
            team, opponent = draw.rng.sample(words.baseball_teams, 2)
            mentions = members({"jp": 9, "kata": 1}, surname=True, male=True)
            order = "、".join(f"{number + 1}番{mention}" for number, mention in enumerate(mentions))
            for person, mention in zip(draft.persons[-size:], order.split("、")):
                person["first"] = mention  # "2番田村" pins the first mention
            return [f"{team}は{draw.date(plain=True)}の{opponent}戦で、{order}の打順で臨んだ。"]
        clubs = words.soccer_teams + ["鹿島", "浦和", "川崎", "神戸"]
        mentions = members({"jp": 9, "kata": 1}, "{N}", male=True, surname=draw.chance(0.4))
        listed = "、".join(f"{mention}（{draw.pick(clubs)}）" for mention in mentions)
        draft.tags.add("dis:team")
        return [f"サッカー日本代表の{draw.pick(['メンバー', '候補'])}が{day}発表され、{listed}らが選ばれた。"]
    if form == "election":
        draft.tags.update({"topic:politics", "role:politician", "mention:age"})
        mentions = members({"jp": 1}, "{N}氏", count=min(size, 5))
        mentions = [f"{mention}{draft.age_mention(35, 75)}" for mention in mentions]
        race = draw.pick([f"{pref}議会議員補欠選挙", f"{pref}議会議員選挙の{city}選挙区"])
        draft.tags.add("nores:office_place")
        return [f"{race}は{draw.date(plain=True)}投開票され、{'、'.join(mentions)}の{len(mentions)}人が当選した。"]
    if form == "awards":
        draft.tags.update({"topic:local"})
        mentions = [civilian(draft, addr_p=0.75, occs=[])[0] for _ in range(min(size, 4))]
        contest = draw.pick(["市民写真コンテスト", "書道展", "作文コンクール", "俳句大会", "料理コンテスト"])
        return [f"{city_text}の{contest}の表彰式が{day}開かれ、{'、'.join(mentions)}に賞状が贈られた。"]
    if form == "suspects":
        draft.tags.update({"topic:crime", "role:suspect"})
        police = draw.police(pref, city)
        act = draw.pick([act for act in words.crime_acts if "{v}" not in act]).replace("{m}", str(draw.number(3, 900)))
        size = min(size, 4)
        if draw.chance(0.5):  # "いずれも…の": one address for all of them
            addr, level, _, _ = draw.address(POLICE_LEVELS)
            suspects = [draft.fresh_name(CIVILIAN_KINDS) for _ in range(size)]
            for suspect in suspects:
                draft.add_person(suspect.full, suspect.full, addr, level)
            draft.tags.add("res:izuremo")
            listed = "、".join(f"{suspect.full}{draft.age_mention(19, 60)}" for suspect in suspects)
            return [f"{police}は{day}、{act}疑いで、いずれも{addr}の{draw.pick(words.occupations)}、{listed}の{size}容疑者を逮捕した。"]
        mentions = [civilian(draft, hon="容疑者", ages=(19, 60), occs=[], addr_p=0.7)[0] for _ in range(min(size, 3))]
        return [f"{police}は{day}、{act}疑いで、{'、'.join(mentions)}の{len(mentions)}人を逮捕した。"]
    if form == "medals":
        draft.tags.update({"topic:sports", "role:athlete"})
        mentions = members(SOLO_KINDS, count=3, male=draw.chance(0.5))
        event = draw.pick(["柔道", "競泳", "体操", "レスリング", "スピードスケート"])
        medals = "、".join(f"{medal}メダルの{mention}" for medal, mention in zip(["金", "銀", "銅"], mentions))
        return [f"{event}の{draw.pick(['全日本選手権', '国際大会', 'ワールドカップ'])}の表彰式には、{medals}の3選手が笑顔で並んだ。"]
    if form == "hist":
        draft.tags.update({"topic:culture", "role:historical"})
        mentions = members(["hist"], count=min(size, 4))
        return [draw.pick([f"{draw.pick(['歴史番組', '特別展', '新しい大河ドラマ'])}では、{'、'.join(mentions)}を取り上げる。",
                           f"{city_text}の{draw.pick(['歴史博物館', '郷土資料館'])}で{day}、{'、'.join(mentions)}ゆかりの品を集めた"
                           "企画展が始まった。"])]
    if form == "victims":  # each with a home of his own: "…市の会社員、A さん（34）、…町の無職、B さん（71）…"
        draft.tags.update({"topic:accident"})
        mentions = [civilian(draft, addr_p=0.9, ages=(18, 90))[0] for _ in range(min(size, 3))]
        return [draw.pick([f"{day}、{city_text}の{draw.pick(['国道', '県道', '交差点'])}で{draw.pick(words.vehicles)}同士が衝突し、"
                           f"{'、'.join(mentions)}が病院に運ばれた。",
                           f"{pref}内で{day}、大雨による土砂崩れがあり、{'、'.join(mentions)}の行方が分からなくなっている。"])]
    if form == "family":
        draft.tags.update({"topic:accident", "res:izuremo"})
        addr, level, _, _ = draw.address(CALM_LEVELS)
        listed = family(draft, min(size, 4), (addr, level))
        return [draw.pick([f"{day}、{city_text}の住宅から出火した火事で、死亡したのは、いずれも{addr}に住む{listed}と確認された。",
                           f"事故で死亡したのは、いずれも{addr}の{listed}。"])]
    draft.tags.update({"topic:sports", "role:athlete"})
    ranks = draw.rng.sample(["横綱", "大関", "関脇", "小結"] + [f"前頭{draw.number(1, 17)}枚目"], min(size, 4))
    mentions = members(["sumo"], count=len(ranks))
    draft.tags.add("shape:stage_name")
    ranked = "、".join(rank + mention for rank, mention in zip(ranks, mentions))
    return [f"大相撲{draw.pick(words.sumo_tournaments)}{draw.number(2, 14)}日目の{draw.date(plain=True)}、{ranked}は"
            f"そろって{draw.pick(['白星を挙げた', '勝ち越しを決めた', '黒星を喫した'])}。"]


def kata_alone(draft, wanted):
    """Foreign names in katakana with nothing around them: 'ミラーは', 'ジョン・ミラーさん（45）', 'マリアさん'."""
    draw = draft.draw
    draft.tags.add("shape:kata_alone")
    form = draw.weighted({"sports": 4, "exec": 2, "resident": 3, "given": 2, "quote": 2, "leader": 2})
    day, city_text = draw.date(), draw.city_as_written(*draw.place())
    if form == "sports":
        draft.tags.update({"topic:sports", "role:athlete", "dis:team"})
        baseball = draw.chance(0.5)
        team, opponent = draw.rng.sample(words.baseball_teams if baseball else words.soccer_teams, 2)
        person = draft.fresh_name({"kata": 1}, male=True)
        mention = draw.weighted({person.short: 45, person.full: 30, f"{team}の{person.short}": 15,
                                 f"新外国人の{person.full}": 10})
        draft.add_person(person.short if person.full not in mention else person.full, mention)
        sentences = [f"{mention}が{draw.date(plain=True)}の{opponent}戦で{game_play(draw, baseball)}。"]
        if wanted >= 2 or draw.chance(0.3):
            sentences.append(f"{person.short}は{quote(draft, words.team_player_quotes)}と振り返った。")
        return sentences
    if form == "exec":
        draft.tags.update({"topic:economy", "role:executive", "dis:company"})
        person = draft.fresh_name({"kata": 1})
        company = draw.pick(words.companies_named_after_persons + [draw.company(famous=False)]).lstrip("米英独伊")
        mention = draw.pick([f"{company}の{person.short}{draw.pick(['CEO', '社長', '会長'])}",
                             f"{company}の{person.full}最高経営責任者（CEO）", f"{person.full}CEO"])
        draft.add_person(person.short if person.full not in mention else person.full, mention)
        return [f"{mention}は{day}、{draw.pick(['来日して記者会見し', '東京都内で講演し', '声明を出し'])}、"
                f"{draw.pick(['日本での事業を拡大する', '新しい工場を建設する', '人員を削減する'])}方針を示した。"]
    if form in ("resident", "given"):
        draft.tags.update({"topic:local"})
        person = draft.fresh_name({"kata": 1} if form == "resident" else {"kata_given": 1})
        age = draft.age_mention(20, 70) if draw.chance(0.7) else ""
        job = draw.pick(words.foreign_resident_occupations)
        if draw.chance(0.6):
            addr, level, _, _ = draw.address(CALM_LEVELS)
            mention = draw.pick([f"{addr}に住む{person.full}さん{age}", f"{addr}の{job}、{person.full}さん{age}",
                                 f"{addr}で暮らす{person.full}さん{age}"])
            draft.add_person(person.full, mention, addr, level)
        else:
            mention = draw.pick([f"{job}の{person.full}さん{age}", f"{person.full}さん{age}",
                                 f"{draw.pick(['フィリピン', 'ブラジル', 'ネパール', 'ペルー'])}出身の{person.full}さん{age}"])
            draft.add_person(person.full, mention)
        # a class far from the home would read oddly
        school = "地元の" if draft.persons[-1]["address"] else f"{city_text}の"
        return [draw.pick([
            f"{mention}が{day}、{city_text}で開かれた{draw.pick(['国際交流イベント', '防災講座', '料理教室'])}で講師を務めた。",
            f"{mention}は{quote(draft, words.civilian_quotes)}{said(draft)}。",
            f"{school}日本語教室に通う{mention}が{day}、スピーチ大会で最優秀賞に選ばれた。"])]
    if form == "quote":
        draft.tags.update({"role:expert"})
        person = draft.fresh_name({"kata": 1})
        hon = draw.pick(["氏", "氏", "教授", "さん"])
        draft.add_person(person.short, mention := f"{person.short}{hon}")
        return [draw.pick([f"{quote(draft, words.expert_quotes)}。{mention}は{day}、"
                           f"{draw.pick(['記者団にこう語った', '声明でこう述べた', '取材にこう答えた'])}。",
                           f"{draw.pick(words.international_topics)}について、{mention}は"
                           f"{quote(draft, words.expert_quotes)}と指摘した。"])]
    draft.tags.update({"topic:international", "role:politician", "mention:title"})
    person = draft.fresh_name({"kata": 1})
    title = draw.pick(["大統領", "首相", "外相", "国務長官", "報道官"])
    draft.add_person(person.short, mention := f"{person.short}{title}")
    sentences = [f"{mention}は{day}、{draw.pick(words.international_topics)}について"
                 f"{quote(draft, words.politician_quotes)}と述べた。"]
    if wanted >= 2:
        present = draft.fresh_name({"kata": 1})
        draft.add_person(present.full, present_mention := f"{present.full}{draw.pick(['氏', '副大統領', '特使'])}")
        sentences.append(f"会談には{present_mention}も同席した。")
    return sentences


def deep(draft, wanted):
    """A person deep inside a long sentence (80-200 characters), not its subject."""
    draw = draft.draw
    draft.tags.add("shape:deep")
    pref, city = draw.place()
    city_text = draw.city_as_written(pref, city)
    subject = draw.pick(words.deep_subjects).format(pref=pref, c=city_text, comp=draw.company(famous=False),
                                                   univ=draw.pick(words.universities), pol=draw.police(pref, city))

    def person(weights=None):
        kind = draw.weighted(weights or {"civ": 5, "expert": 2, "lone": 2, "artist": 1})
        if kind == "civ":
            return civilian(draft, addr_p=0.75)[0]
        if kind == "expert":
            return expert(draft)[0]
        if kind == "lone":
            return surname_only(draft, draw.pick(["{S}さん", "{S}氏", "{S}教授", "{S}弁護士"]))[0]
        return artist(draft)[0]

    form = draw.weighted({"event": 3, "tail": 3, "clause": 5})
    if form == "tail":  # a long lead, then the person at the end: "…中、…に加わった会社員の…さん（38）は「…」と話す。"
        sentence = (f"{draw.pick(words.deep_leads)}{draw.pick(words.deep_middles).format(org=subject)}"
                    f"{person({'civ': 4, 'lone': 1})}は"
                    f"{quote(draft, words.civilian_quotes + words.local_official_quotes)}"
                    f"{draw.pick(['と話す', 'と話している', 'と意気込む', 'と語った'])}。")
    elif form == "event":  # an event whose subject is the crowd
        guide = draw.pick(words.deep_event_clauses).format(P=person())
        sentence = (f"{draw.date()}、{city_text}の{draw.pick(['市民会館', '公民館', '体育館', '小学校'])}で開かれた"
                    f"{draw.pick(['防災訓練', '地域の祭り', '発表会'])}では、{guide}地元の子どもたちや住民ら約{draw.number(2, 9)}0人が"
                    f"{draw.pick(['日ごろの練習の成果を披露し', '初期消火や避難の手順を確かめ'])}、会場は大きな拍手に包まれた。")
        draft.tags.add("nores:event_place")
    else:
        clauses = draw.rng.sample(words.deep_clauses, 2)
        parts = [clauses[0].format(P=person(), m=draw.number(10, 900))]
        if wanted >= 2:
            parts.append(clauses[1].format(P=person(), m=draw.number(10, 900)))
        sentence = (f"{subject}は{draw.date()}、{draw.pick(words.deep_backgrounds)}{''.join(parts)}"
                    f"{draw.pick(words.deep_results)}。")
    if len(sentence) < 80 and form == "clause":
        sentence = sentence[:-1] + f"と、{draw.pick(['関係者が明らかにした', '地元紙などが伝えた'])}。"
    return [sentence]


# ---------------------------------------------------------------- texts without persons: scene(draft) -> sentences
def neg_weather(draft):
    draw = draft.draw
    pref, city = draw.place()
    region = words.region_of[pref]
    return draw.pick([
        [f"気象庁によると、{draw.date()}は{pref}など{region}を中心に"
         f"{draw.pick(['大気の状態が非常に不安定になった', '広い範囲で雨が降った', '今季一番の冷え込みとなった'])}。",
         f"{draw.city_as_written(pref, city)}では最高気温が{draw.number(28, 39)}度に達した。"],
        [f"台風{draw.number(1, 25)}号は{draw.date()}、{pref}に接近し、{city}で1時間に{draw.number(30, 99)}ミリの雨を観測した。"],
        [f"{pref}では{draw.date()}、大雨の影響で{city}の約{draw.number(2, 900)}世帯に避難指示が出された。"]])


def neg_market(draft):
    draw = draft.draw
    draft.tags.add("dis:company")
    company = draw.company(famous=False)
    return [draw.pick([
        f"{draw.date()}の東京外国為替市場で、円相場は1ドル＝{draw.number(130, 160)}円台で取引された。",
        f"日経平均株価は{draw.date()}、前日比{draw.number(10, 900)}円{draw.pick(['高', '安'])}で取引を終えた。",
        f"{draw.company()}は{draw.date()}、{draw.number(2023, 2025)}年{draw.pick(['3', '9', '12'])}月期決算を発表し、"
        f"純利益が前年比{draw.number(2, 60)}％{draw.pick(['増', '減'])}だった。",
        f"{company}は{draw.date()}、{draw.city_as_written(*draw.place())}の工場での生産を一時停止すると発表した。",
        f"{company}（{draw.city_as_written(*draw.place())}）は{draw.date()}、{draw.company()}と業務提携すると発表した。"])]


def neg_voices(draft):
    """Quotes from unnamed people, as in street-interview paragraphs."""
    draw = draft.draw
    draft.tags.add("dis:anonymous")
    topic = draw.pick(["食料品の値上がり", "ガソリン価格の高騰", "最低賃金の引き上げ", "路線バスの減便"])
    speaker = draw.pick([f"買い物に来た{draw.city_as_written(*draw.place())}の主婦{draft.age_mention(30, 75)}",
                         f"市内の会社員男性{draft.age_mention(25, 60)}", f"近くに住む{draw.number(2, 8)}0代の女性", "利用客の男子大学生",
                         f"{draw.city_as_written(*draw.place())}の自営業の男性{draft.age_mention(40, 75)}"])
    opinions = ["家計が苦しい", "もう少し何とかしてほしい", "仕方がないと思う", "生活への影響が心配だ"]
    return [f"{topic}をめぐり、{speaker}は{quote(draft, opinions)}と話した。"]


def neg_org(draft):
    draw = draft.draw
    draft.tags.add("dis:org")
    org = draw.pick(["厚生労働省", "国土交通省", "文部科学省", "日本銀行", "観光庁", "消費者庁", "総務省", "日本郵便", "JR東日本",
                     "日本相撲協会"] + [draw.pick(words.prefectures) + "教育委員会"])
    announcement = draw.pick(["来年度から新しい制度を導入する", f"今年の訪日客が{draw.number(2, 4)}千万人を超えた",
                              "いじめの認知件数が過去最多になった", "一部の料金を値上げする", "記念切手を発行する",
                              f"{draw.pick(words.universities)}と連携協定を結んだ"])
    return [f"{org}は{draw.date()}、{announcement}と発表した。"]


def neg_sports(draft):
    draw = draft.draw
    draft.tags.add("dis:team")
    home, away = (draw.rng.sample(words.baseball_teams, 2) if draw.chance(0.5)
                  else draw.rng.sample(words.soccer_teams, 2))
    score, other_score = ((draw.number(0, 9), draw.number(0, 9)) if home in words.baseball_teams
                          else (draw.number(0, 3), draw.number(0, 3)))
    high, low = max(score, other_score), min(score, other_score)
    return [draw.pick([f"{home}は{draw.date(plain=True)}、本拠地で{away}と対戦し、{high + 1}－{low}で勝った。",
                       f"{home}と{away}の試合は{draw.date(plain=True)}に行われ、{score}－{score}で引き分けた。",
                       f"{home}は{draw.date(plain=True)}の{away}戦に{low}－{high + 1}で敗れ、連敗が{draw.number(2, 8)}に伸びた。"])]


def neg_incident(draft):
    """Incidents with only an address or anonymous people: nothing to extract."""
    draw = draft.draw
    draft.tags.add("neg:address_only")
    addr, _, pref, city = draw.address()
    city_text, police, day = draw.city_as_written(pref, city), draw.police(pref, city), draw.date(precise=True)
    act = draw.pick(words.crime_acts).replace("{v}", anonymous_person(draft)).replace("{m}", str(draw.number(3, 500)))
    return draw.pick([
        [f"{day}、{addr}の住宅から出火し、木造2階建て約{draw.number(40, 200)}平方メートルが全焼した。", "けが人はいなかった。"],
        [f"{day}、{city_text}の交差点で{draw.pick(words.vehicles)}と{draw.pick(words.vehicles)}が衝突し、"
         f"{anonymous_person(draft)}が軽いけがをした。"],
        [f"{police}は{day}、{act}疑いで、{city_text}の{draw.pick(words.occupations)}の{draw.pick(['男', '女'])}"
         f"{draft.age_mention(20, 70)}を逮捕した。"],
        [f"{day}、{addr}で、{anonymous_person(draft)}が刃物を持った男に切りつけられた。",
         f"{police}が殺人未遂事件として逃げた男の行方を追っている。"]])


def neg_culture(draft):
    """Works, characters, animals and surname-like places: person-like but not persons."""
    draw = draft.draw
    city_text = draw.city_as_written(*draw.place())
    story = draw.number(0, 4)
    draft.tags.add(["dis:work", "dis:character", "dis:place_surname", "dis:animal", "dis:work"][story])
    return [[
        f"人気アニメ「{draw.pick(words.anime)}」の劇場版が{draw.date()}公開され、初日から多くの家族連れでにぎわった。",
        f"{city_text}の商業施設で{draw.date()}、キャラクター「{draw.pick(words.characters)}」と写真が撮れるイベントが開かれた。",
        f"{draw.place_with_surname()}で{draw.date()}、伝統の秋祭りが開かれ、地元の住民ら約{draw.number(2, 9)}00人が参加した。",
        f"{city_text}の動物園で、{draw.pick(['ライオン', 'ゾウ', 'キリン', 'ジャイアントパンダ'])}の「{draw.pick(words.animal_names)}」が"
        f"{draw.date()}、{draw.number(2, 30)}歳の誕生日を迎えた。",
        draw.pick([f"「{draw.pick(words.anime)}」の原画展が{draw.date()}から、{city_text}の美術館で始まった。",
                   f"「{draw.pick(words.classics)}」の古い写本が{city_text}の旧家で見つかったと、{draw.pick(words.universities)}の"
                   f"研究チームが{draw.date()}発表した。"])][story]]


def neg_lookalike(draft):
    """Names that are not persons: race horses, ships, sumo stables, awards and companies named after people, team
    lists."""
    draw = draft.draw
    day, pref, city = draw.date(), *draw.place()
    form = draw.pick(["horse", "ship", "stable", "award", "company", "teams", "banzuke"])
    draft.tags.add({"horse": "dis:animal", "ship": "dis:ship", "stable": "dis:org", "award": "dis:award",
                    "company": "dis:company", "teams": "dis:team", "banzuke": "dis:org"}[form])

    def horse():
        return draw.pick(words.horse_name_heads) + draw.pick(words.horse_name_tails)

    if form == "horse":
        race = draw.pick(["天皇賞・秋", "日本ダービー", "有馬記念", "ジャパンカップ", "桜花賞", "菊花賞", "宝塚記念"])
        return [f"競馬の{race}は{draw.date(plain=True)}、{draw.pick(['東京', '京都', '阪神', '中山'])}競馬場で行われ、"
                f"{draw.pick(['1番人気の', '3番人気の', ''])}{horse()}が優勝した。{horse()}が2着に入った。"]
    if form == "ship":
        ship = f"第{draw.number(1, 88)}{draw.pick(['大洋', '清', '幸福', '八幡', '共栄', '福寿', '栄光', '宝'])}丸"
        return [f"{day}、{pref}沖で漁船「{ship}」から「浸水している」と通報があり、"
                f"{draw.pick(['海上保安部', '管区海上保安本部'])}が乗組員{draw.number(2, 9)}人を救助した。"]
    if form == "stable":
        return [f"大相撲の{draw.pick(words.sumo_stables)}は{day}、"
                f"{draw.pick(['新弟子の入門を発表した', '九州場所に向けた稽古を公開した', '部屋の移転を発表した'])}。"]
    if form == "award":
        return [draw.pick([
            f"第{draw.number(100, 175)}回{draw.pick(words.awards_named_after_persons[:2])}の選考会が{day}、東京都内で開かれる。",
            f"今年の{draw.pick(['芥川賞', '直木賞', 'ノーベル文学賞'])}の発表を前に、{draw.city_as_written(pref, city)}の書店では"
            "関連本の特設コーナーが設けられた。",
            f"プロ野球で最も活躍した先発投手に贈られる沢村賞の選考委員会が{day}開かれた。"])]
    if form == "company":
        return [f"{draw.pick(words.companies_named_after_persons)}は{day}、"
                f"{draw.pick(['日本法人の社長交代を発表した', '新製品を日本で発売すると発表した', '国内の工場を増強すると発表した'])}。"]
    if form == "teams":
        baseball = draw.chance(0.5)
        teams = draw.rng.sample(words.baseball_teams if baseball else words.soccer_teams, draw.number(3, 4))  # of teams
        return [f"{'プロ野球' if baseball else 'Jリーグ'}は{draw.date(plain=True)}、各地で試合が行われ、"
                f"{'、'.join(teams)}がいずれも勝った。"]
    return [f"日本相撲協会は{day}、大相撲{draw.pick(words.sumo_tournaments)}の新番付を発表した。"]


# ---------------------------------------------------------------- the scenes and their weights
class PlainScene(NamedTuple):
    write: Callable          # (draft, wanted) -> (opening sentences, extra sentences that each bring a person)
    weight: int
    most_sentences: int = 4  # the extras stop at this many sentences, even short of `wanted` persons


PLAIN_SCENES = (PlainScene(crime, 18), PlainScene(trial, 6), PlainScene(accident, 14), PlainScene(politics, 9),
                PlainScene(international, 7), PlainScene(economy, 7), PlainScene(sports, 9, 3),
                PlainScene(entertainment, 7, 3), PlainScene(culture, 6, 3), PlainScene(science, 4, 3),
                PlainScene(local, 17, 3), PlainScene(obituary, 3), PlainScene(missing, 11, 3))
HARD_SCENES = {lone: 28, stage: 12, roster: 16, kata_alone: 11, deep: 12}  # the shapes of SHAPE_TAGS
NEGATIVE_SCENES = {neg_weather: 3, neg_market: 4, neg_voices: 2, neg_org: 3, neg_sports: 3, neg_incident: 4,
                   neg_culture: 4, neg_lookalike: 6}


# ---------------------------------------------------------------- records
class GuidelineError(KitError, ValueError):
    """An answer that breaks the annotation guideline: a bug of a scene or of the vocabulary, never written out.
    A ValueError too, as the generator raised before."""


def make_record(draw, negative, hard=False):
    """One record and its tags, or None when a short name also occurs before its first mention (order unclear).

    Raises GuidelineError when the answer breaks the guideline's verbatim rule."""
    draft = Draft(draw)
    if negative:
        scene = draw.weighted(NEGATIVE_SCENES)
        sentences = scene(draft)
        draft.tags.add("negative")
    elif hard:
        scene = draw.weighted(HARD_SCENES)
        sentences = scene(draft, draw.weighted(PERSON_COUNT_WEIGHTS))
    else:
        plain = draw.weighted({scene: scene.weight for scene in PLAIN_SCENES})
        scene, wanted = plain.write, draw.weighted(PERSON_COUNT_WEIGHTS)
        opening, extras = scene(draft, wanted)
        sentences = add_extras(draft, wanted, extras, opening, plain.most_sentences)
    text = "".join(sentences)
    name = scene.__name__
    draft.tags.add("scene:" + name)
    for person in draft.persons:
        if person["first"] not in text or person["name"] not in person["first"]:
            raise GuidelineError(f"{name}: name {person['name']!r} or its mention {person['first']!r} is not in the "
                                 f"text: {text}")
        if person["address"] is not None and person["address"] not in text:
            raise GuidelineError(f"{name}: address {person['address']!r} is not in the text: {text}")
        if text.find(person["name"]) != text.index(person["first"]) + person["first"].index(person["name"]):
            return None  # "千葉" inside an earlier "千葉県": the first occurrence is not this person's mention
    persons = sorted(draft.persons, key=lambda person: text.index(person["first"]))  # order of first appearance
    answer = [{"name": person["name"], **({"address": person["address"]} if person["address"] else {})}
              for person in persons]
    if len({person["name"] for person in answer}) != len(answer):
        raise GuidelineError(f"{name}: a person is listed twice: {text}")
    draft.tags.add(f"persons:{len(answer)}")
    if draft.tags & set(SHAPE_TAGS):
        draft.tags.add("shape:any")
    record = {"messages": [{"role": "system", "content": EXTRACTION_SYSTEM_PROMPT}, {"role": "user", "content": text},
                           {"role": "assistant", "content": json.dumps({"persons": answer}, ensure_ascii=False)}]}
    return record, draft.tags


def make_split(seed, size, exclude):
    """size records with unique texts of acceptable length, none of them in exclude."""
    draw, records, tags, seen = RandomDraws(seed), [], Counter(), set(exclude)
    negatives = round(size * NEGATIVE_SHARE)
    hard = round((size - negatives) * HARD_SHARE)
    kinds = ["negative"] * negatives + ["hard"] * hard + ["plain"] * (size - negatives - hard)  # exact shares, shuffled
    draw.rng.shuffle(kinds)
    misses = 0
    while len(records) < size:
        made = make_record(draw, kinds[len(records)] == "negative", kinds[len(records)] == "hard")
        text = made and made[0]["messages"][1]["content"]
        if made is None or text in seen or not MIN_CHARS <= len(text) <= MAX_CHARS:
            misses += 1
            if misses > 20 * size + 1000:  # a pool too small for this size would otherwise loop for ever
                raise KitError(f"could not make {size} distinct texts (made {len(records)}); ask for fewer")
            continue
        seen.add(text)
        records.append(made[0])
        tags.update(made[1])
    return records, tags


def shape_stats(records, tags):
    """Shares of one split: each shape tag among positive records, persons with an address, mean characters."""
    texts = [record["messages"][1]["content"] for record in records]
    answers = [json.loads(record["messages"][2]["content"])["persons"] for record in records]
    positives = sum(1 for answer in answers if answer) or 1
    persons = [person for answer in answers for person in answer]
    stats = {tag: tags[tag] / positives for tag in (*SHAPE_TAGS, "shape:any")}
    stats["negative"] = 1 - positives / max(len(records), 1)
    stats["address_per_person"] = sum("address" in person for person in persons) / max(len(persons), 1)
    stats["mean_chars"] = sum(map(len, texts)) / max(len(texts), 1)
    return stats


def print_stats(train, train_tags, validation, validation_tags):
    print(f"{'phenomenon (records with it)':30s} {'train':>6s} {'valid':>6s}")
    for tag in sorted(set(train_tags) | set(validation_tags)):
        print(f"{tag:30s} {train_tags[tag]:6d} {validation_tags[tag]:6d}")
    train_shares, validation_shares = shape_stats(train, train_tags), shape_stats(validation, validation_tags)
    print(f"\n{'share (shapes: of positive records)':36s} {'train':>6s} {'valid':>6s}")
    for key in train_shares:
        shown = "{:6.1f}" if key == "mean_chars" else "{:6.1%}"
        print(f"{key:36s} {shown.format(train_shares[key])} {shown.format(validation_shares[key])}")


def main(settings: Settings) -> dict:
    check_number(settings.train_size, "train_size", minimum=1, whole=True)
    check_number(settings.validation_size, "validation_size", minimum=0, whole=True)
    words.read(settings.vocabulary_file, settings.names_file)
    out_dir = check_output_root(settings.out_dir, "--out_dir")
    train, train_tags = make_split(settings.seed, settings.train_size, exclude=set())
    train_texts = {record["messages"][1]["content"] for record in train}
    # its own stream, no overlap
    validation, validation_tags = make_split(settings.seed + 1, settings.validation_size, exclude=train_texts)
    with disk_errors_named(out_dir, "the dataset folder"):
        # Atomic, so a run stopped midway leaves the previous files whole; with the permissions a plain write gives
        # (the old file's, else the umask's), since others read the data too: a container, a shared checkout.
        write_jsonl(out_dir / "train.jsonl", train, keep_mode=True)
        write_jsonl(out_dir / "validation.jsonl", validation, keep_mode=True)
    print(f"wrote {len(train)} train and {len(validation)} validation records to {out_dir}")
    if settings.stats:
        print_stats(train, train_tags, validation, validation_tags)
    return {"train": len(train), "validation": len(validation), "out_dir": str(out_dir)}


if __name__ == "__main__":
    run_cli(main, Settings)
