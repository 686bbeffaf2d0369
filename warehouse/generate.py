"""Synthetic consortium extracts, as member institutions really send them.

One population of people is simulated (numpy, vectorized; Faker only seeds the name and street
pools), then each institution writes its own view of the people it served: its own local ids,
its own copy of the identity with real-world noise (spelling variants, missing SSNs, a few
transposed birth-date digits, a few typos) and a few exact duplicate rows. Everything is
deterministic for a seed.
"""

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enclave.consortium import Consortium, demo
from enclave.warehouse.schema import (
    AWARDS,
    DEGREES,
    DIPLOMAS,
    ETHNICITIES,
    LOCAL_ID,
    MANIFEST,
    RAW_TABLES,
)

# roughly a California public-school mix, in the order of schema.ETHNICITIES
ETHNICITY_SHARES = [0.42, 0.25, 0.13, 0.06, 0.04, 0.01, 0.01, 0.05, 0.03]
FORMAT = "enclave-extracts/1"
COLLEGE_LETTERS = "CSTVWXYZ"  # the first letter of each college's local ids, in member order
COURSES = [
    f"{d}-{n}"
    for d in ("MATH", "ENGL", "BIOL", "CHEM", "HIST", "PSYC", "ECON", "CSCI", "ARTS", "SPAN")
    for n in (1, 101, 102, 201)
]


@dataclass
class Population:
    """The ground truth the extracts were made from (kept in memory only, for tests)."""

    people: pd.DataFrame  # one row per person: person, identity and every local id (or "")
    files: dict  # (institution, table) -> DataFrame as written


def _pools(seed: int) -> dict:
    from faker import Faker

    fake = Faker(["en_US", "es_MX"])
    fake.seed_instance(seed)

    def unique(make, n):
        return sorted({make() for _ in range(n)})

    return {
        "F": unique(fake.first_name_female, 700),
        "M": unique(fake.first_name_male, 700),
        "last": unique(fake.last_name, 2500),
        "street": unique(fake.street_name, 400),
    }


def _bijection(n: int, width: int, rng) -> np.ndarray:
    """n distinct numbers of ``width`` digits in a seeded but non-sequential order."""
    space = 9 * 10 ** (width - 1)
    step = 1_000_003  # prime, coprime with 2, 3 and 5, so i -> i*step mod space is one-to-one
    offset = int(rng.integers(space))
    return 10 ** (width - 1) + (np.arange(n, dtype=np.int64) * step + offset) % space


def _ssns(n: int, rng) -> np.ndarray:
    """n distinct SSNs in NNN-NN-NNNN form, never area 000/666/9xx, group 00 or serial 0000."""
    cand = rng.integers(1_000_000, 900_000_000, size=2 * n + 100)
    area, group, serial = cand // 1_000_000, cand // 10_000 % 100, cand % 10_000
    cand = cand[(area != 666) & (group != 0) & (serial != 0)]
    cand = pd.unique(cand)[:n]
    return np.array(
        [f"{v // 1_000_000:03d}-{v // 10_000 % 100:02d}-{v % 10_000:04d}" for v in cand]
    )


def _people(n: int, rng, pools: dict) -> pd.DataFrame:
    gender = rng.choice(["F", "M", "X"], size=n, p=[0.49, 0.49, 0.02])
    binary = np.where(gender == "X", rng.choice(["F", "M"], size=n), gender)
    first = np.where(
        binary == "F", rng.choice(pools["F"], size=n), rng.choice(pools["M"], size=n)
    ).astype(object)
    birth = np.datetime64("1995-01-01") + rng.integers(0, 8 * 365, size=n).astype("timedelta64[D]")
    zips = np.array([f"{z:05d}" for z in rng.choice(np.arange(90001, 96162), size=300)])
    house = rng.integers(1, 9999, size=n)
    street = rng.choice(pools["street"], size=n)
    area, mid, tail = (
        rng.integers(lo, hi, size=n) for lo, hi in ((200, 999), (200, 999), (0, 9999))
    )
    return pd.DataFrame(
        {
            "person": np.arange(n),
            "first_name": first,
            "last_name": rng.choice(pools["last"], size=n).astype(object),
            "birth_date": np.datetime_as_string(birth, unit="D").astype(object),
            "birth_year": birth.astype("datetime64[Y]").astype(int) + 1970,
            "gender": gender,
            "ethnicity": rng.choice(ETHNICITIES, size=n, p=ETHNICITY_SHARES),
            "zip": rng.choice(zips, size=n),
            "street_address": [f"{h} {s}" for h, s in zip(house, street, strict=True)],
            "phone": [f"({a}) {m}-{t:04d}" for a, m, t in zip(area, mid, tail, strict=True)],
            "ssid": _bijection(n, 10, rng).astype(str).astype(object),
            "ssn": _ssns(n, rng).astype(object),
            "college_id": np.char.add("C", _bijection(n, 7, rng).astype(str)).astype(object),
            "univ_id": np.char.add("U", _bijection(n, 8, rng).astype(str)).astype(object),
        }
    )


def _variant(name: str, rng) -> str:
    """A spelling variant a person's name takes in another institution's records."""
    choice = rng.integers(4)
    if choice == 0:
        return name.upper()
    if choice == 1:
        return "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
    if choice == 2 and (" " in name or "-" in name):
        return name.replace(" ", "-") if " " in name else name.replace("-", " ")
    return name.lower().title() if choice == 3 else f" {name} "


def _typo(name: str, rng) -> str:
    i = int(rng.integers(1, max(len(name), 2)))
    return name[:i] + name[i + 1 :] if len(name) > 3 else name + "e"


def _transposed(date: str) -> str:
    """Swap two digits of a birth date so it stays a valid, different date."""
    y, m, d = date.split("-")
    for cand in (
        f"{y}-{m}-{d[::-1]}",
        f"{y}-{d}-{m}",
        f"{y}-{m[::-1]}-{d}",
        f"{y[:2]}{y[3]}{y[2]}-{m}-{d}",
    ):
        try:
            dt.date.fromisoformat(cand)
        except ValueError:
            continue
        if cand != date:
            return cand
    return date


def _noisy_identity(people: pd.DataFrame, rng) -> pd.DataFrame:
    """Another institution's copy of these people's identities."""
    out = people.copy()
    n = len(out)
    for col in ("first_name", "last_name"):
        vary = rng.random(n) < 0.12
        out.loc[vary, col] = [_variant(v, rng) for v in out.loc[vary, col]]
        typo = rng.random(n) < 0.01
        out.loc[typo, col] = [_typo(v, rng) for v in out.loc[typo, col]]
    swap = rng.random(n) < 0.01
    out.loc[swap, "birth_date"] = [_transposed(v) for v in out.loc[swap, "birth_date"]]
    return out


def _with_duplicates(df: pd.DataFrame, rng, share: float = 0.005) -> pd.DataFrame:
    """A few rows sent twice, each copy right after its original (as re-exports do)."""
    dup = df[rng.random(len(df)) < share]
    out = pd.concat([df, dup])
    return out.iloc[np.argsort(np.r_[np.arange(len(df)), dup.index.to_numpy()], kind="stable")]


def _terms(start_year: np.ndarray, count: np.ndarray) -> pd.DataFrame:
    """One row per (owner row, term): alternating fall/spring from ``start_year`` fall."""
    owner = np.repeat(np.arange(len(count)), count)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    year = start_year[owner] + (k + 1) // 2
    season = np.where(k % 2 == 0, "FA", "SP")
    return pd.DataFrame({"owner": owner, "k": k, "term": np.char.add(year.astype(str), season)})


def _usual(n: int, members: list[str], first_share: float, rng) -> np.ndarray:
    """Each person's usual institution among ``members``: with two, the first has
    ``first_share`` of the people; with more, the others share the rest (weights 2 *
    first_share : 2 * (1 - first_share) each); one member needs no draw."""
    if len(members) == 1:
        return np.full(n, members[0], dtype=object)
    weights = np.array([2 * first_share] + [2 * (1 - first_share)] * (len(members) - 1))
    bounds = np.cumsum(weights / weights.sum())
    bounds[-1] = np.inf
    return np.asarray(members, dtype=object)[np.searchsorted(bounds, rng.random(n), side="right")]


def _next(members: list[str], usual: np.ndarray) -> np.ndarray:
    """Each person's other institution: the member after their usual one (for movers)."""
    index = {code: i for i, code in enumerate(members)}
    following = np.asarray([members[(i + 1) % len(members)] for i in range(len(members))])
    return following[[index[code] for code in usual]].astype(object)


def _k12(people: pd.DataFrame, members: list[str], rng) -> tuple[dict, pd.Series]:
    n = len(people)
    district = _usual(n, members, 0.55, rng)
    in_k12 = rng.random(n) < 0.85
    moved = in_k12 & (rng.random(n) < 0.04)
    last_grade = np.where(rng.random(n) < 0.08, rng.integers(9, 12, size=n), 12)
    graduated = in_k12 & (last_grade == 12) & (rng.random(n) < 0.9)
    rows = people[in_k12].index.to_numpy()
    grades = pd.DataFrame(
        {"p": np.repeat(rows, 4), "grade_level": np.tile(np.arange(9, 13), len(rows))}
    )
    grades = grades[grades.grade_level <= last_grade[grades.p]]
    grades["academic_year"] = people.birth_year.to_numpy()[grades.p] + 5 + grades.grade_level
    other = _next(members, district)
    grades["institution"] = np.where(
        moved[grades.p] & (grades.grade_level >= 11), other[grades.p], district[grades.p]
    )
    files = {}
    for inst in members:
        g = grades[grades.institution == inst]
        who = people.loc[pd.unique(g.p)]
        ident = who if inst == members[0] else _noisy_identity(who, rng)
        files[(inst, "students")] = ident[RAW_TABLES["k12", "students"].column_names]
        school = np.char.add(f"{inst[-3:]}-HS", (people.person.to_numpy()[g.p] % 4 + 1).astype(str))
        files[(inst, "enrollments")] = pd.DataFrame(
            {
                "ssid": people.ssid.to_numpy()[g.p],
                "school_code": school,
                "academic_year": g.academic_year,
                "grade_level": g.grade_level,
            }
        )
        tested = g[g.grade_level.isin([10, 11])]
        subject = np.where(tested.grade_level == 10, "SCI", "ELA")
        both = tested[tested.grade_level == 11]
        scores = pd.concat(
            [
                pd.DataFrame(
                    {"p": tested.p, "academic_year": tested.academic_year, "subject": subject}
                ),
                pd.DataFrame({"p": both.p, "academic_year": both.academic_year, "subject": "MATH"}),
            ]
        )
        scale = np.clip(rng.normal(625, 90, size=len(scores)).astype(int), 100, 999)
        files[(inst, "assessments")] = pd.DataFrame(
            {
                "ssid": people.ssid.to_numpy()[scores.p],
                "academic_year": scores.academic_year,
                "subject": scores.subject,
                "scale_score": scale,
                "performance_level": np.digitize(scale, [560, 625, 690]) + 1,
            }
        )
        grads = g[(g.grade_level == 12) & graduated[g.p]]
        files[(inst, "graduations")] = pd.DataFrame(
            {
                "ssid": people.ssid.to_numpy()[grads.p],
                "academic_year": grads.academic_year,
                "diploma_type": rng.choice(
                    DIPLOMAS,
                    size=len(grads),
                    p=[0.7, 0.27, 0.03],
                ),
            }
        )
    return files, pd.Series(np.where(in_k12, graduated, False), index=people.index)


def _contact(ident: pd.DataFrame, rng, domain: str) -> pd.Series:
    """E-mail addresses as a college records them: derived from the name, sometimes missing."""
    local = ident.first_name.str.strip().str.lower() + "." + ident.last_name.str.strip().str.lower()
    local = local.str.replace(r"[^a-z.]", "", regex=True) + ident.person.astype(str)
    return (local + domain).where(rng.random(len(ident)) < 0.85, "")


def _cc(
    people: pd.DataFrame, members: list[str], k12_grad: np.ndarray, in_k12: np.ndarray, rng
) -> tuple[dict, dict]:
    n = len(people)
    in_cc = rng.random(n) < np.where(k12_grad, 0.5, 0.35)
    college = _usual(n, members, 0.6, rng) if members else np.full(n, "", dtype=object)
    both = in_cc & (rng.random(n) < 0.05)  # also at the college before their usual one
    start = people.birth_year.to_numpy() + 18 + np.where(k12_grad, 0, rng.integers(0, 4, size=n))
    count = rng.integers(2, 7, size=n)
    files, ids = {}, {}
    for i, inst in enumerate(members):
        attends = in_cc & ((college == inst) | (both & (college == members[i - 1])))
        ident = _noisy_identity(people[attends], rng)
        # each college's own id letter (a later one may reuse a letter: ids are per college)
        ident["college_id"] = COLLEGE_LETTERS[i % len(COLLEGE_LETTERS)] + ident.college_id.str[1:]
        ids[inst] = pd.Series(ident.college_id.to_numpy(), index=ident.index)
        ident["ssn"] = ident.ssn.where(rng.random(len(ident)) < 0.7, "")
        ident["statewide_id"] = ident.ssid.where(
            in_k12[attends] & (rng.random(len(ident)) < 0.6), ""
        )
        ident["phone"] = ident.phone.where(rng.random(len(ident)) < 0.8, "")
        ident["email"] = _contact(ident, rng, "@mail.example.edu")
        files[(inst, "students")] = ident[RAW_TABLES["cc", "students"].column_names]
        terms = _terms(start[attends], count[attends])
        cid = ident.college_id.to_numpy()
        per_term = rng.integers(1, 5, size=len(terms))
        course = terms.loc[np.repeat(terms.index, per_term)]  # index: the term row
        course["units"] = rng.choice(
            [3.0, 4.0, 1.0, 5.0], size=len(course), p=[0.6, 0.25, 0.1, 0.05]
        )
        files[(inst, "enrollments")] = pd.DataFrame(
            {
                "college_id": cid[terms.owner],
                "term": terms.term,
                "units_attempted": course.groupby(level=0).units.sum().to_numpy(),
            }
        )
        files[(inst, "course_outcomes")] = pd.DataFrame(
            {
                "college_id": cid[course.owner],
                "term": course.term,
                "course_id": rng.choice(COURSES, size=len(course)),
                "grade": rng.choice(
                    ["A", "B", "C", "D", "F", "P", "NP", "W"],
                    size=len(course),
                    p=[0.25, 0.25, 0.18, 0.07, 0.08, 0.05, 0.02, 0.1],
                ),
                "units": course.units,
            }
        )
        last = terms.groupby("owner").tail(1)
        award = last[(count[attends][last.owner] >= 4) & (rng.random(len(last)) < 0.4)]
        files[(inst, "awards")] = pd.DataFrame(
            {
                "college_id": cid[award.owner],
                "term": award.term,
                "award_type": rng.choice(AWARDS, size=len(award), p=[0.35, 0.25, 0.15, 0.25]),
            }
        )
    return files, {"in_cc": in_cc, "start": start, "count": count, "ids": ids}


def _univ(people: pd.DataFrame, members: dict, k12_grad, in_k12, cc: dict, rng) -> dict:
    """The universities' extracts (``members``: code -> name)."""
    n = len(people)
    transfer = cc["in_cc"] & (cc["count"] >= 4) & (rng.random(n) < 0.35)
    first_year = k12_grad & ~cc["in_cc"] & (rng.random(n) < 0.3)
    from_elsewhere = ~in_k12 & ~cc["in_cc"] & (rng.random(n) < 0.15)
    admitted = transfer | first_year | from_elsewhere
    start = np.where(
        transfer, cc["start"] + (cc["count"] + 1) // 2, people.birth_year.to_numpy() + 18
    )
    count = np.where(transfer, rng.integers(3, 7, size=n), rng.integers(4, 11, size=n))
    university = _usual(n, list(members), 0.6, rng) if members else np.full(n, "", dtype=object)
    files = {}
    for inst, name in members.items():
        mine = admitted & (university == inst)
        ident = _noisy_identity(people[mine], rng)
        ident["ssn"] = ident.ssn.where(rng.random(len(ident)) < 0.95, "")
        ident["email"] = _contact(ident, rng, f"@{_initials(name)}.example.edu")
        uid = ident.univ_id.to_numpy()
        terms = _terms(start[mine], count[mine])
        first = terms[terms.k == 0]
        done = terms.groupby("owner").tail(1)
        needed = np.where(transfer[mine], 4, 8)[done.owner]
        degree = done[(count[mine][done.owner] >= needed) & (rng.random(len(done)) < 0.75)]
        units = rng.choice([12.0, 15.0, 16.0, 9.0, 18.0], size=len(terms))
        files[(inst, "students")] = ident[RAW_TABLES["univ", "students"].column_names]
        files[(inst, "admissions")] = pd.DataFrame(
            {
                "univ_id": uid[first.owner],
                "term": first.term,
                "admit_type": np.where(transfer[mine][first.owner], "transfer", "first_year"),
            }
        )
        files[(inst, "enrollments")] = pd.DataFrame(
            {
                "univ_id": uid[terms.owner],
                "term": terms.term,
                "units": units,
                "term_gpa": np.clip(rng.normal(3.0, 0.55, size=len(terms)), 0, 4).round(2),
            }
        )
        files[(inst, "degrees")] = pd.DataFrame(
            {
                "univ_id": uid[degree.owner],
                "term": degree.term,
                "degree": rng.choice(DEGREES, size=len(degree)),
            }
        )
    return files


def _initials(name: str) -> str:
    """An e-mail domain's first label from a name: "Pacific Coast State University" -> pcsu."""
    return "".join(word[0] for word in name.lower().split() if word[0].isalnum()) or "univ"


def generate(
    out: str | Path, students: int, seed: int = 0, consortium: Consortium | None = None
) -> Population:
    """Write one CSV per institution per table plus ``manifest.json`` under ``out``: one
    extract set for each member of ``consortium`` (the demo's five without one), in its
    sector's layout; people move from districts to colleges to universities among them."""
    members = consortium or demo()
    rng = np.random.default_rng(seed)
    people = _people(students, rng, _pools(seed))
    districts = members.in_layout("k12")
    if districts:
        files, k12_grad = _k12(people, districts, rng)
    else:
        files, k12_grad = {}, pd.Series(False, index=people.index)
    in_k12 = people.index.isin(
        pd.unique(
            np.concatenate([files[(i, "students")].index.to_numpy() for i in districts] or [[]])
        )
    )
    cc_files, cc = _cc(people, members.in_layout("cc"), k12_grad.to_numpy(), in_k12, rng)
    files |= cc_files
    universities = {code: members.name(code) for code in members.in_layout("univ")}
    files |= _univ(people, universities, k12_grad.to_numpy(), in_k12, cc, rng)

    truth = people.copy()
    for inst in members.codes:
        local = files[(inst, "students")][LOCAL_ID[members.layout(inst)]]
        truth[inst] = local.groupby(level=0).first().reindex(truth.index, fill_value="")

    out = Path(out)
    manifest = {"format": FORMAT, "seed": seed, "students": students, "files": []}
    written = {}
    for (inst, table), df in sorted(files.items()):
        df = _with_duplicates(df.reset_index(drop=True), rng)
        path = out / inst / f"{table}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False, lineterminator="\n")
        manifest["files"].append(
            {"institution": inst, "table": table, "path": f"{inst}/{table}.csv", "rows": len(df)}
        )
        written[(inst, table)] = df
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return Population(people=truth, files=written)
