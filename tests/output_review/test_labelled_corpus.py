"""The labelled corpus (tests/output_review/labelled): 453 outputs made by a real kernel,
each labelled from the policy by ``cases.py`` (from the data, never from the gate). On the
Enclave kernel's outputs the gate must block every output labelled block and every rule it
reports must be right at least 90% of the time; on the same cases run by a plain kernel
(text heuristics alone) no rule may fire wrongly more than 10% of the time."""

import pytest

from enclave.output_review.gate import Gate, read_notebook
from enclave.output_review.measure import measure
from tests.output_review.labelled.cases import cases
from tests.output_review.labelled.make_corpus import CORPUS, PLAIN


def measured(path):
    nb = read_notebook(path)
    return measure(nb, Gate().screen(nb, path.name))


def test_the_corpus_is_large_and_its_labels_are_those_of_the_cases():
    nb = read_notebook(CORPUS)
    labels = {c.metadata.enclave_label["id"]: c.metadata.enclave_label for c in nb.cells[1:]}
    written = {case_id: (verdict, sorted(rules)) for case_id, _, verdict, rules in cases()}
    assert len(labels) == len(written) >= 400
    assert {k: (v["verdict"], v["rules"]) for k, v in labels.items()} == written
    assert {v["verdict"] for v in labels.values()} == {"pass", "review", "block"}


def test_on_the_enclave_kernel_every_block_is_caught_and_rules_are_precise():
    m = measured(CORPUS)
    assert m.block_recall == 1.0, m.missed
    for rule in m.found:
        assert m.precision(rule) >= 0.9, (rule, m.wrong.get(rule))


@pytest.mark.parametrize("path", [CORPUS, PLAIN], ids=["enclave-kernel", "plain-kernel"])
def test_no_rule_fires_wrongly(path):
    m = measured(path)
    assert m.outputs >= 400
    assert all(m.precision(rule) >= 0.9 for rule in m.found), m.wrong
    # what text alone cannot tell (records behind a mean, who dominates a sum) is missed,
    # never a pass turned into a block
    assert m.verdicts["pass", "block"] == 0
