"""Each submitted output against its twin in the re-execution: reproduced, differs, or only in
the submission.

Cells are matched by position (the re-execution ran a clean copy of the same cells), outputs
within a cell by position after consecutive stream chunks of the same stream are joined (a
kernel splits stdout wherever it flushes). What changes from run to run and says nothing about
the result is normalized away first: execution counts, object addresses (``0x7f...``),
timings (``Wall time: 1.2 s``, ``3.1 ms ± 20 µs per loop``), ANSI colours. Everything else of
an output counts, the kernel's structured data included: a hand-edited number differs.
"""

import json
import re

REPRODUCED = "reproduced"
DIFFERS = "differs"
ONLY_SUBMITTED = "only in the submission"
MARKS = (REPRODUCED, DIFFERS, ONLY_SUBMITTED)

ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")
TIMING = re.compile(
    r"(?:(?:CPU|Wall) times?:[^\n]*|\b\d+(?:\.\d+)?\s*(?:ns|µs|us|ms|s)\s*±\s*[^\n]*per loop[^\n]*)"
)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
VOLATILE_KEYS = {"execution_count", "transient"}


def normalized(text: str) -> str:
    return TIMING.sub("<timing>", ADDRESS.sub("0x…", ANSI.sub("", text)))


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def units(cell) -> list[tuple[list[int], str]]:
    """(submitted output indices, normalized form) of each comparable unit of a cell."""
    out: list[tuple[list[int], str]] = []
    last_stream = None
    for index, output in enumerate(cell.get("outputs", ())):
        kind = output.get("output_type")
        if kind == "stream":
            name = output.get("name")
            text = normalized(_joined(output.get("text", "")))
            if last_stream == name and out:
                indices, form = out[-1]
                out[-1] = (indices + [index], form + text)
            else:
                out.append(([index], f"stream:{name}:" + text))
            last_stream = name
            continue
        last_stream = None
        if kind == "error":
            form = f"error:{output.get('ename')}:{normalized(_joined(output.get('evalue', '')))}"
        else:
            data = {
                mime: normalized(_joined(value)) if isinstance(value, str | list) else value
                for mime, value in (output.get("data") or {}).items()
            }
            form = f"{kind}:" + normalized(json.dumps(data, sort_keys=True, default=str))
        out.append(([index], form))
    return out


def _text(cell, indices: list[int]) -> str:
    """What a reviewer reads of those outputs (text, the first readable representation)."""
    parts = []
    for index in indices:
        output = cell["outputs"][index]
        if output.get("output_type") == "stream":
            parts.append(_joined(output.get("text", "")))
        elif output.get("output_type") == "error":
            parts.append(str(output.get("ename")))
        else:
            data = output.get("data") or {}
            plain = data.get("text/plain")
            parts.append(_joined(plain) if plain is not None else ", ".join(sorted(data)))
    return "".join(parts)


def compare(submitted, rerun) -> dict:
    """``{"marks": {"cell:output": mark}, "differs": [{cell, output, submitted, rerun}],
    "new": [[cell, output], ...]}`` for ``submitted`` against ``rerun`` (notebooks)."""
    marks: dict[str, str] = {}
    differs, new = [], []
    rerun_cells = rerun.get("cells", [])
    for c, cell in enumerate(submitted.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        twin = rerun_cells[c] if c < len(rerun_cells) else {}
        theirs = units(twin) if twin.get("cell_type") == "code" else []
        for position, (indices, form) in enumerate(units(cell)):
            if position >= len(theirs):
                mark = ONLY_SUBMITTED
            elif theirs[position][1] == form:
                mark = REPRODUCED
            else:
                mark = DIFFERS
                differs.append(
                    {
                        "cell": c,
                        "output": indices[0],
                        "submitted": _text(cell, indices),
                        "rerun": _text(twin, theirs[position][0]),
                    }
                )
            for index in indices:
                marks[f"{c}:{index}"] = mark
        for indices, _ in theirs[len(units(cell)) :]:
            new.append([c, indices[0]])
    return {"marks": marks, "differs": differs, "new": new}


def counts(result: dict) -> dict[str, int]:
    """How many outputs got each mark (for the audit trail: no values)."""
    tally = dict.fromkeys(MARKS, 0)
    for mark in result["marks"].values():
        tally[mark] += 1
    return tally
