"""Linkage rules on hand-made records (one row per institution and local id)."""

import pandas as pd

from enclave.warehouse.link import link, name_keys, normalize_name


def records(*rows):
    """rows: (institution, local_id, ssid, ssn, first, last, birth_date)"""
    df = pd.DataFrame(
        rows, columns=["institution", "local_id", "ssid", "ssn", "first", "last", "birth_date"]
    )
    df["name_key"] = name_keys(df["first"], df["last"], df.birth_date)
    return df.drop(columns=["first", "last", "birth_date"])


def groups(person: pd.Series) -> set:
    return {frozenset(g) for g in person.index.groupby(person.to_numpy()).values()}


def test_spelling_variants_normalize_to_one_name():
    variants = ["José María", "JOSE MARIA", "jose-maria", "  José  María ", "Jose Maria"]
    assert {normalize_name(v) for v in variants} == {"JOSEMARIA"}
    assert normalize_name("O'Brien") == normalize_name("OBRIEN")


def test_statewide_id_then_ssn_chain_a_district_a_college_and_a_university():
    recs = records(
        ("K12-001", "1000000001", "1000000001", "", "Ana", "Lopez", "2004-03-05"),
        ("CC-101", "C1", "1000000001", "123456789", "ANA", "LÓPEZ", "2004-03-05"),
        # the university's copy has a transposed birth date and a typo: the SSN still links
        ("UNI-201", "U1", "", "123456789", "Anna", "Lopez", "2004-05-03"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0, 1, 2})}
    assert person.iloc[0].startswith("ssid:")
    assert stats.people == 1


def test_name_and_birth_date_link_when_no_identifier_is_shared():
    recs = records(
        ("K12-002", "2000000002", "2000000002", "", "Wei", "Chen-Li", "2003-11-30"),
        ("UNI-201", "U7", "", "", "WEI", "Chen Li", "2003-11-30"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0, 1})}
    assert sum(stats.ambiguous.values()) == 0


def test_two_candidates_at_one_institution_are_ambiguous_and_not_linked():
    recs = records(
        ("CC-101", "C1", "", "", "Sam", "Lee", "2002-01-01"),
        ("CC-101", "C2", "", "", "Sam", "Lee", "2002-01-01"),
        ("UNI-201", "U1", "", "", "Sam", "Lee", "2002-01-01"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0}), frozenset({1}), frozenset({2})}
    assert stats.ambiguous["name + birth date"] == 1
    assert person.nunique() == 3  # a shared name key never makes two people one key


def test_conflicting_ssns_are_not_linked_by_name():
    recs = records(
        ("CC-102", "S1", "", "111223333", "Maria", "Garcia", "2001-07-04"),
        ("UNI-201", "U1", "", "444556666", "Maria", "Garcia", "2001-07-04"),
    )
    person, stats = link(recs)
    assert person.nunique() == 2
    assert stats.ambiguous["name + birth date"] == 1


def test_an_ssn_shared_within_one_institution_is_ambiguous():
    recs = records(
        ("CC-101", "C1", "", "123456789", "A", "B", "2001-01-01"),
        ("CC-101", "C2", "", "123456789", "C", "D", "2002-02-02"),
        ("UNI-201", "U1", "", "123456789", "E", "F", "2003-03-03"),
    )
    person, stats = link(recs)
    assert person.nunique() == 3
    assert stats.ambiguous["ssn"] == 1


def test_different_birth_dates_without_identifiers_stay_apart():
    recs = records(
        ("K12-001", "1", "1", "", "Kim", "Park", "2004-01-12"),
        ("CC-101", "C1", "", "", "Kim", "Park", "2004-01-21"),
    )
    person, _ = link(recs)
    assert person.nunique() == 2


def test_pair_rates_count_people_at_both_institutions():
    recs = records(
        ("K12-001", "1", "1", "", "A", "A", "2004-01-01"),
        ("K12-001", "2", "2", "", "B", "B", "2004-01-02"),
        ("CC-101", "C1", "1", "", "A", "A", "2004-01-01"),
    )
    _, stats = link(recs)
    assert stats.pairs == [("K12-001", "CC-101", 1, 0.5, 1.0)]


def test_groups_sharing_a_cluster_are_decided_one_after_the_other():
    # CC-101 and UNI-201 share an SSN but spell the name differently, so the person's
    # cluster takes part in two name groups: each may join one more record...
    recs = records(
        ("CC-101", "C1", "", "123456789", "Ana", "Lopez", "2004-03-05"),
        ("UNI-201", "U1", "", "123456789", "Anna", "Lopez", "2004-03-05"),
        ("K12-001", "1", "1", "", "Ana", "Lopez", "2004-03-05"),
        ("CC-102", "S1", "", "", "Anna", "Lopez", "2004-03-05"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0, 1, 2, 3})}
    # ...but not two records of one college: the second merge is refused
    recs = records(
        ("CC-101", "C1", "", "123456789", "Ana", "Lopez", "2004-03-05"),
        ("UNI-201", "U1", "", "123456789", "Anna", "Lopez", "2004-03-05"),
        ("CC-102", "S1", "", "", "Ana", "Lopez", "2004-03-05"),
        ("CC-102", "S2", "", "", "Anna", "Lopez", "2004-03-05"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0, 1, 2}), frozenset({3})}
    assert stats.ambiguous["name + birth date"] == 1


def test_independent_groups_with_conflicts_are_counted_once_each():
    recs = records(
        ("K12-001", "1", "1", "", "Lu", "Wang", "2003-01-01"),
        ("K12-002", "2", "2", "", "Lu", "Wang", "2003-01-01"),  # statewide ids disagree
        ("CC-101", "C1", "", "111223333", "Jo", "Kim", "2003-02-02"),
        ("UNI-201", "U1", "", "111223333", "Jo", "Kim", "2003-02-02"),  # same SSN: linked
        ("CC-102", "S1", "", "", "Al", "Ray", "2003-03-03"),
        ("UNI-201", "U2", "", "", "Al", "Ray", "2003-03-03"),
    )
    person, stats = link(recs)
    assert groups(person) == {frozenset({0}), frozenset({1}), frozenset({2, 3}), frozenset({4, 5})}
    assert stats.ambiguous["name + birth date"] == 1
