"""Submitted outputs against the re-execution's: what counts as the same result."""

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from enclave.review_service.compare import DIFFERS, ONLY_SUBMITTED, REPRODUCED, compare, counts


def nb(*cells):
    made = []
    for cell in cells:
        if isinstance(cell, str):
            made.append(new_markdown_cell(cell))
            continue
        code = new_code_cell("x")
        code.outputs = list(cell)
        made.append(code)
    return new_notebook(cells=made)


def out(text, count=1, **data):
    return new_output("execute_result", data={"text/plain": text, **data}, execution_count=count)


def stream(text):
    return new_output("stream", name="stdout", text=text)


def test_same_results_are_reproduced_whatever_the_counts_addresses_and_timings():
    submitted = nb(
        [out("42", count=7)],
        [stream("<object at 0x7f3a2b1c9d80>\n"), stream("CPU times: user 3 ms\nWall time: 5 ms\n")],
        [stream("3.1 ms ± 20 µs per loop (mean ± std. dev. of 7 runs, 100 loops each)\n")],
    )
    rerun = nb(
        [out("42", count=1)],
        [stream("<object at 0x7ffe00112233>\nCPU times: user 9 ms\nWall time: 11 ms\n")],
        [stream("2.9 ms ± 41 µs per loop (mean ± std. dev. of 7 runs, 100 loops each)\n")],
    )
    result = compare(submitted, rerun)
    assert set(result["marks"].values()) == {REPRODUCED}
    assert result["marks"]["1:1"] == REPRODUCED  # the second chunk of a joined stream
    assert result["differs"] == [] and result["new"] == []


def test_a_hand_edited_number_differs_and_both_versions_are_kept():
    result = compare(nb("# intro", [out("n = 12")]), nb("# intro", [out("n = 3")]))
    assert result["marks"] == {"1:0": DIFFERS}
    assert result["differs"] == [{"cell": 1, "output": 0, "submitted": "n = 12", "rerun": "n = 3"}]


def test_a_change_in_any_representation_differs():
    edited = out("table", **{"text/html": "<td>12</td>"})
    clean = out("table", **{"text/html": "<td>3</td>"})
    assert compare(nb([edited]), nb([clean]))["marks"] == {"0:0": DIFFERS}


def test_outputs_only_in_the_submission_and_new_ones():
    result = compare(nb([out("1"), out("2")], []), nb([out("1")], [stream("new\n")]))
    assert result["marks"] == {"0:0": REPRODUCED, "0:1": ONLY_SUBMITTED}
    assert result["new"] == [[1, 0]]
    assert counts(result) == {REPRODUCED: 1, DIFFERS: 0, ONLY_SUBMITTED: 1}


def test_an_error_is_compared_by_class_and_message():
    error = new_output("error", ename="KeyError", evalue="'x'", traceback=["at 0x7f00aa11bb22"])
    other = new_output("error", ename="ValueError", evalue="'x'", traceback=[])
    assert compare(nb([error]), nb([error]))["marks"] == {"0:0": REPRODUCED}
    assert compare(nb([error]), nb([other]))["marks"] == {"0:0": DIFFERS}
