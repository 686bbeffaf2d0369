"""Read a notebook file the way the gate needs it, refusing anything that is not one.

``nbformat.read`` validates against the full JSON schema, which is slow on large files and
says little a researcher can act on; here we check only the structure the gate relies on and
name the place that is wrong. Multi-line strings are joined as nbformat does.
"""

import gc
import json
from contextlib import contextmanager
from pathlib import Path

from enclave.errors import EnclaveError
from enclave.files import FileLimits, open_regular
from enclave.output_review.node import Node as NotebookNode

MAX_DEPTH = 100  # JSON nesting any honest output stays far below
OUTPUT_KEYS = {
    "stream": ("name", "text"),
    "display_data": ("data", "metadata"),
    "execute_result": ("data", "metadata"),
    "error": ("ename", "evalue", "traceback"),
}
CELL_TYPES = ("code", "markdown", "raw")


class NotebookInvalid(EnclaveError):
    exit_code = 2


def read_notebook(path, max_bytes: int | None = None) -> NotebookNode:
    """Load and check ``path``, a regular file of at most ``max_bytes`` (default
    ``FileLimits.max_notebook_bytes``); any problem is a one-line :class:`EnclaveError` (exit 2).
    """
    path = Path(path)
    limit = max_bytes if max_bytes is not None else FileLimits().max_notebook_bytes
    try:
        with open_regular(path, limit, "FileLimits.max_notebook_bytes", exit_code=2) as f:
            if f.peek(4)[:4] == b"PK\x03\x04":
                raise NotebookInvalid(
                    f"{path}: is a zip archive, not a notebook; submit the .ipynb."
                )
            text = f.read().decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotebookInvalid(
            f"{path}: not UTF-8 text (bad byte at offset {e.start}); save it as a notebook again."
        ) from None
    except OSError as e:
        raise NotebookInvalid(f"{path}: cannot be read ({e.strerror}); check the path.") from None
    return parse_notebook(text, str(path))


def parse_notebook(text: str, name: str) -> NotebookNode:
    if not text or text.isspace():
        raise NotebookInvalid(f"{name}: the file is empty; save the notebook again.")
    try:
        with cyclic_gc_paused():
            nb = json.loads(text, object_hook=NotebookNode)
    except json.JSONDecodeError as e:
        raise NotebookInvalid(
            f"{name}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})."
        ) from None
    except RecursionError:
        raise NotebookInvalid(f"{name}: JSON nested too deeply to be a notebook.") from None
    check_structure(nb, name)
    return nb


@contextmanager
def cyclic_gc_paused():
    """Python's cycle collector off while the gate builds or walks millions of small
    containers that form no cycles (they are freed by reference counting): with it on, its
    passes over the whole notebook took more CPU than parsing it (2.6x for ``json.loads`` of
    the benchmark notebook). Restored on exit, unless something else had turned it off."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def check_structure(nb, name: str) -> None:
    def fail(where: str, problem: str):
        raise NotebookInvalid(f"{name}: {where}: {problem}.")

    if not isinstance(nb, dict):
        fail("top level", "not a JSON object; this is not a notebook")
    for key in ("nbformat", "metadata", "cells"):
        if key not in nb:
            fail("top level", f"missing key '{key}'; this is not an nbformat 4 notebook")
    if not isinstance(nb.nbformat, int) or nb.nbformat < 4:
        fail("nbformat", f"version {nb.nbformat!r} is not supported; upgrade it to 4 in Jupyter")
    if not isinstance(nb.metadata, dict):
        fail("metadata", "must be an object")
    check_depth(nb.metadata, "metadata", fail)
    if not isinstance(nb.cells, list):
        fail("cells", "must be a list")
    for i, cell in enumerate(nb.cells):
        where = f"cells[{i}]"
        if not isinstance(cell, dict):
            fail(where, "must be an object")
        for key in ("cell_type", "source"):
            if key not in cell:
                fail(where, f"missing key '{key}'")
        if cell.cell_type not in CELL_TYPES:
            fail(f"{where}.cell_type", f"unknown type {str(cell.cell_type)[:20]!r}")
        cell.source = joined(cell.source, f"{where}.source", fail)
        if not isinstance(cell.setdefault("metadata", NotebookNode()), dict):
            fail(f"{where}.metadata", "must be an object")
        check_depth(cell.metadata, f"{where}.metadata", fail)
        attachments = cell.get("attachments", {})
        if not isinstance(attachments, dict) or not all(
            isinstance(bundle, dict) for bundle in attachments.values()
        ):
            fail(f"{where}.attachments", "must map names to mimebundles")
        check_depth(attachments, f"{where}.attachments", fail)
        if cell.cell_type == "code":
            if not isinstance(cell.get("outputs"), list):
                fail(where, "a code cell needs an 'outputs' list")
            for j, output in enumerate(cell.outputs):
                check_output(output, f"{where}.outputs[{j}]", fail)


def check_output(output, where: str, fail) -> None:
    if not isinstance(output, dict) or "output_type" not in output:
        fail(where, "missing key 'output_type'")
    keys = OUTPUT_KEYS.get(output.output_type)
    if keys is None:
        fail(f"{where}.output_type", f"unknown type {str(output.output_type)[:20]!r}")
    for key in keys:
        if key not in output:
            fail(where, f"missing key '{key}'")
    if output.output_type == "stream":
        output.text = joined(output.text, f"{where}.text", fail)
    elif output.output_type == "error":
        if not isinstance(output.traceback, list):
            fail(f"{where}.traceback", "must be a list of strings")
    else:
        if not isinstance(output.data, dict):
            fail(f"{where}.data", "must be an object")
        for mime, value in output.data.items():
            if is_json_mime(mime):
                check_depth(value, f"{where}.data", fail)
            else:
                output.data[mime] = joined(value, f"{where}.data[{mime[:40]!r}]", fail)
    check_depth(output.get("metadata", {}), f"{where}.metadata", fail)


def is_json_mime(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def joined(value, where: str, fail) -> str:
    """nbformat stores multi-line strings as lists of lines; checks want one string."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        try:
            return "".join(value)  # raises TypeError on anything but strings
        except TypeError:
            pass
    fail(where, "must be a string or a list of strings")


NESTING = {NotebookNode, dict, list}  # the containers JSON gives (objects are NotebookNodes)


def check_depth(value, where: str, fail) -> None:
    """Iterative, so that hostile nesting cannot exhaust the stack of later steps: one level
    at a time, skipping (by the types of its items) every container that holds no other."""
    level, depth = [value], 1
    while level:
        if depth > MAX_DEPTH:
            fail(where, f"nested deeper than {MAX_DEPTH} levels; this is not a real output")
        inner = []
        for item in level:
            items = item.values() if isinstance(item, dict) else item
            if not NESTING.isdisjoint(map(type, items)):
                inner.extend(v for v in items if isinstance(v, dict | list))
        level, depth = inner, depth + 1
