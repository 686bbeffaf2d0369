"""The bundled templates' shape, and the suppression they rely on."""

import pandas as pd
import pytest

from enclave.reports.disclosure import percent, suppress_counts
from enclave.reports.template import bundled_templates, load_template


@pytest.mark.parametrize("name", ["pipeline", "course_success", "time_to_degree"])
def test_template_has_description_parameters_and_no_outputs(name):
    template = load_template(name)
    first = template.notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "min_cell" in template.parameters
    assert all(p.help for p in template.parameters.values())
    for cell in template.notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert template.notebook.metadata.kernelspec.name == "enclave-python"
    assert set(bundled_templates()) >= {name}


def test_counts_below_the_minimum_are_suppressed():
    shown = suppress_counts(pd.Series([0, 3, 9, 10, 250]), 10)
    assert shown.isna().tolist() == [True, True, True, False, False]
    assert shown.dropna().tolist() == [10, 250]


def test_percentages_that_would_disclose_a_small_count_are_suppressed():
    numerator = pd.Series([3, 20, 35, 0, 40, 5])
    denominator = pd.Series([40, 40, 40, 40, 40, 8])
    shown = percent(numerator, denominator, 10)
    # 3 of 40 (small numerator), 35 of 40 (5 without), 5 of 8 (small total) are hidden
    assert shown.isna().tolist() == [True, False, True, False, False, True]
    assert shown.dropna().tolist() == [50.0, 0.0, 100.0]
