"""Deterministic record linkage across institutions.

Records are student rows (one per institution and local id). They are joined, in order:

1. on the statewide student id (K-12 ids; colleges record it when a student came from a
   district),
2. on the SSN,
3. on normalized first name + last name + date of birth, only where the two sides have no
   conflicting SSN or statewide id and no institution would then hold two of the records.

A candidate group is *ambiguous*, and not linked, when two of its records belong to the same
institution (two students at one college with the same SSN, or the same name and birth date)
or when it joins people whose strong identifiers disagree. Each resulting person gets one
identifier to pseudonymize: its statewide id, else its SSN, else its name key, else (when that
identifier is shared with another person) its first institution and local id.
"""

import unicodedata
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

RECORD_COLUMNS = ("institution", "local_id", "ssid", "ssn", "name_key")


@dataclass
class LinkStats:
    """What linkage did, in counts only (no identifier ever leaves this module)."""

    records: int = 0
    people: int = 0
    ambiguous: dict = field(default_factory=dict)  # rule -> candidate groups left unlinked
    pairs: list = field(default_factory=list)  # (inst_a, inst_b, linked, rate_a, rate_b)


def normalize_name(name: str) -> str:
    """Upper-case ASCII letters only: accents, case, spaces, hyphens and apostrophes vanish."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.upper()) if "A" <= c <= "Z")


def name_keys(first: pd.Series, last: pd.Series, birth_date: pd.Series) -> pd.Series:
    """``FIRST|LAST|YYYY-MM-DD`` per record, or "" when a name normalizes to nothing."""
    norm = {}
    for series in (first, last):
        for v in pd.unique(series.to_numpy(object)).tolist():
            if v not in norm:
                norm[v] = normalize_name(v)
    f, la = (s.map(norm).astype(object) for s in (first, last))  # object even when empty
    key = f + "|" + la + "|" + birth_date
    return key.where((f != "") & (la != ""), "")


class _Clusters:
    """Union-find over record positions; the smaller position becomes the root."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            ra, rb = min(ra, rb), max(ra, rb)
            self.parent[rb] = ra
        return ra

    def roots(self) -> np.ndarray:
        return np.fromiter((self.find(i) for i in range(len(self.parent))), np.int64)


def _candidate_groups(records: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Records sharing a non-empty value with another (``g``: group number, ``pos``: record),
    ambiguous groups counted and left out."""
    values = records[column].to_numpy(object)
    sub = pd.DataFrame(
        {"value": values, "inst": records.institution.to_numpy(object), "pos": records.index}
    )[values != ""]
    sub = sub[sub.value.duplicated(keep=False)]
    clash = sub.duplicated(["value", "inst"], keep=False).to_numpy()
    ambiguous = sub.value[clash].unique()
    sub = sub[~sub.value.isin(ambiguous)]
    return pd.DataFrame({"g": pd.factorize(sub.value)[0], "pos": sub.pos.to_numpy()}), len(
        ambiguous
    )


def _union_groups(clusters: _Clusters, members: pd.DataFrame, column: str) -> None:
    """Union every ``column`` value of a group with the group's first one."""
    first = members.groupby("g")[column].transform("first").to_numpy().tolist()
    for a, b in zip(first, members[column].tolist(), strict=True):
        if a != b:
            clusters.union(a, b)


def _link_strong(records: pd.DataFrame, clusters: _Clusters, column: str) -> int:
    members, ambiguous = _candidate_groups(records, column)
    _union_groups(clusters, members, "pos")
    return ambiguous


def _cluster_info(records: pd.DataFrame, roots: np.ndarray, wanted: np.ndarray) -> dict:
    """root -> (institutions, statewide ids, ssns) over the whole cluster, for ``wanted`` roots."""
    keep = np.isin(roots, wanted)
    columns = [roots[keep]] + [
        records[c].to_numpy(object)[keep] for c in ("institution", "ssid", "ssn")
    ]
    info = {}
    for root, inst, ssid, ssn in zip(*(c.tolist() for c in columns), strict=True):
        entry = info.setdefault(root, (set(), set(), set()))
        entry[0].add(inst)
        if ssid:
            entry[1].add(ssid)
        if ssn:
            entry[2].add(ssn)
    return info


def _compatible_groups(records: pd.DataFrame, roots: np.ndarray, pairs: pd.DataFrame) -> pd.Series:
    """Per group (``pairs``: one row per group and cluster root): may its clusters merge?

    Vectorized form of the rule: the clusters' institutions are disjoint (the group's clusters
    hold as many distinct institutions together as they do one by one, for any number of
    members), and together they hold at most one statewide id and at most one SSN.
    """
    keep = np.isin(roots, pairs.root.unique())
    rec = pd.DataFrame(
        {
            "root": roots[keep],
            "institution": records.institution.to_numpy(object)[keep],
            "ssid": records.ssid.to_numpy(object)[keep],
            "ssn": records.ssn.to_numpy(object)[keep],
        }
    )
    at = rec[["root", "institution"]].drop_duplicates()
    one_by_one = pairs.join(at.groupby("root").size().rename("n"), on="root").groupby("g").n.sum()
    together = pairs.merge(at, on="root").groupby("g").institution.nunique()
    ok = one_by_one == together.reindex(one_by_one.index)
    for column in ("ssid", "ssn"):
        values = rec.loc[rec[column] != "", ["root", column]].drop_duplicates()
        distinct = pairs.merge(values, on="root").groupby("g")[column].nunique()
        ok &= ~ok.index.isin(distinct.index[distinct > 1])
    return ok


def _link_names(records: pd.DataFrame, clusters: _Clusters) -> int:
    members, ambiguous = _candidate_groups(records, "name_key")
    roots = clusters.roots()
    pairs = pd.DataFrame({"g": members.g, "root": roots[members.pos]}).drop_duplicates()
    pairs = pairs[pairs.g.duplicated(keep=False)]  # groups that would join 2+ clusters
    # groups sharing a cluster with another group must be decided one after the other
    dependent = pairs.g[pairs.root.duplicated(keep=False)].unique()
    independent = pairs[~pairs.g.isin(dependent)]
    ok = _compatible_groups(records, roots, independent)
    ambiguous += int((~ok).sum())
    _union_groups(clusters, independent[independent.g.isin(ok.index[ok])], "root")
    one_by_one = members[members.g.isin(dependent)].groupby("g").pos.agg(list).tolist()
    return ambiguous + _link_one_by_one(records, clusters, one_by_one, roots)


def _link_one_by_one(records: pd.DataFrame, clusters: _Clusters, groups: list, roots) -> int:
    """The same rule for groups whose clusters overlap: each merge changes the next check."""
    if not groups:
        return 0
    info = _cluster_info(records, roots, roots[np.concatenate(groups)])
    ambiguous = 0
    for members in groups:
        parts = {clusters.find(m) for m in members}
        if len(parts) == 1:
            continue
        merged = (set(), set(), set())
        compatible = True
        for root in parts:
            insts, ids, ssns = info[root]
            compatible &= not (merged[0] & insts)
            for acc, new in zip(merged, (insts, ids, ssns), strict=True):
                acc |= new
        if not compatible or len(merged[1]) > 1 or len(merged[2]) > 1:
            ambiguous += 1
            continue
        root = min(parts)
        for other in parts - {root}:
            clusters.union(root, other)
        info[root] = merged
    return ambiguous


def link(records: pd.DataFrame, order=None) -> tuple[pd.Series, LinkStats]:
    """Person identifier (to pseudonymize) per record, aligned with ``records``' rows.
    ``order``: institution codes in the order the pair rates list them (the consortium's)."""
    records = records.reset_index(drop=True)
    clusters = _Clusters(len(records))
    stats = LinkStats(records=len(records))
    stats.ambiguous["statewide id"] = _link_strong(records, clusters, "ssid")
    stats.ambiguous["ssn"] = _link_strong(records, clusters, "ssn")
    stats.ambiguous["name + birth date"] = _link_names(records, clusters)
    roots = clusters.roots()

    def smallest(values: np.ndarray, where: np.ndarray) -> pd.Series:
        """Per cluster root, the smallest non-empty value (independent of row order)."""
        keep = where & (values != "")
        pick = pd.DataFrame({"root": roots[keep], "value": values[keep]}).drop_duplicates()
        several = pick.root.duplicated(keep=False).to_numpy()  # sort only where there is a choice
        chosen = pick[several].sort_values(["root", "value"]).drop_duplicates("root")
        pick = pd.concat([pick[~several], chosen])
        return pd.Series(pick.value.to_numpy(), index=pick.root.to_numpy())

    everywhere = np.ones(len(roots), dtype=bool)
    person = pd.Series(np.nan, index=np.unique(roots), dtype=object)
    for column, prefix in (("ssid", "ssid:"), ("ssn", "ssn:"), ("name_key", "name:")):
        person = person.fillna(prefix + smallest(records[column].to_numpy(object), everywhere))
    # no identifier, or one another person has too: the first institution + local id
    fallback = person.isna() | person.duplicated(keep=False)
    if fallback.any():
        local = (records.institution + ":" + records.local_id).to_numpy(object)
        local = smallest(local, np.isin(roots, person.index[fallback]))
        person[fallback] = "local:" + local
    stats.people = len(person)
    stats.pairs = _pair_rates(records.institution, roots, order)
    return pd.Series(person.reindex(roots).to_numpy(), index=records.index), stats


def _pair_rates(institution: pd.Series, roots: np.ndarray, order=None) -> list:
    """For each pair of institutions: people at both, as a share of each one's students."""
    seen = pd.unique(institution.to_numpy(object)).tolist()
    names = [i for i in order if i in set(seen)] if order is not None else seen
    codes = institution.to_numpy(object)
    people_at = [np.unique(roots[codes == name]) for name in names]
    rows = []
    for (a, at_a), (b, at_b) in combinations(zip(names, people_at, strict=True), 2):
        both = len(np.intersect1d(at_a, at_b, assume_unique=True))
        rows.append((a, b, both, both / len(at_a), both / len(at_b)))
    return rows
