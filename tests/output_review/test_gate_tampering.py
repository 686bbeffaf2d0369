"""Code reaching into the kernel's recording or display machinery is sent to a reviewer, each
way of reaching it named; ordinary analysis code (magics, settings, IPython.display) is not."""

import pytest
from gate_helpers import notebook
from nbformat.v4 import new_markdown_cell

from enclave.output_review.gate import Gate


def tampering(*sources):
    report = Gate().screen(notebook(*((source, []) for source in sources)))
    return [f for f in report.findings if f.rule == "tampering"]


@pytest.mark.parametrize(
    ("source", "what"),
    [
        # IPython formatters and display hooks replaced
        (
            "get_ipython().display_formatter.formatters['text/html'].for_type(object, f)",
            "display formatter",
        ),
        ("ip = get_ipython()\nip.display_formatter.format = fake", "display formatter"),
        ("from IPython import get_ipython as g\ng().displayhook = hook", "display hook"),
        ("import sys\nsys.displayhook = print", "display hook"),
        ("import sys as s\ns.excepthook = quiet", "exception hook"),
        ("get_ipython().showtraceback = lambda *a, **k: None", "exception hook"),
        ("get_ipython().events.unregister('post_run_cell', f)", "cell events"),
        ("get_ipython().ast_transformers.append(t)", "code transformers"),
        ("get_ipython().display_pub.publish(data={'text/plain': '3'})", "display publisher"),
        ("k = get_ipython().kernel\nk.session.send(k.iopub_socket, 'x', {})", "shell"),
        ("setattr(get_ipython(), 'display_formatter', None)", "display formatter"),
        ("from IPython.core.formatters import PlainTextFormatter", "display formatter"),
        ("from IPython.core.interactiveshell import InteractiveShell", "shell"),
        ("import ipykernel.iostream", "ipykernel"),
        ("%config PlainTextFormatter.pprint = False", "display configuration"),
        ("%unload_ext enclave.kernels.extension", "extension"),
        ("%run other.py", "from a file"),
        # sys.modules surgery, import machinery, enclave modules
        ("import sys\nsys.modules['enclave.kernels.structured'] = fake", "sys.modules"),
        ("import sys\ndel sys.modules['enclave.kernels.provenance']", "sys.modules"),
        ("import sys\nsys.modules.pop('enclave.kernels.structured')", "sys.modules"),
        ("from sys import modules\nmodules['enclave'] = None", "sys.modules"),
        ("import sys\ngetattr(sys, 'modules').clear()", "sys.modules"),
        ("import sys\nsys.meta_path.insert(0, finder)", "import machinery"),
        ("import builtins\nbuiltins.__import__ = mine", "import machinery"),
        ("import importlib, pandas\nimportlib.reload(pandas)", "reloaded"),
        ("import enclave.kernels.structured as s\ns.payload = lambda obj: None", "enclave"),
        ("from enclave.kernels import provenance", "recording code"),
        ("import enclave.reports.disclosure as d\nd.suppress_counts = f", "patched"),
        ("warehouse.query = my_query", "warehouse object"),
        ("setattr(warehouse, 'query', my_query)", "warehouse object"),
        # the recording's wrappers patched or unwrapped
        ("import pandas as pd\npd.DataFrame.groupby = original", "patched"),
        ("import pandas as pd\nsetattr(pd.core.groupby.GroupBy, 'size', f)", "patched"),
        ("import numpy as np\nnp.unique = raw_unique", "patched"),
        ("size = pd.core.groupby.GroupBy.size.__wrapped__", "original"),
        ("f.__closure__[0].cell_contents", "closure"),
        ("import sys\nsys._getframe(1).f_globals", "frame"),
        ("import inspect\ninspect.currentframe().f_back.f_locals", "frame"),
        # ctypes, raw memory
        ("import ctypes", "ctypes"),
        ("from ctypes import pythonapi, py_object", "ctypes"),
        ("c = __import__('ctypes')", "ctypes"),
        ("import importlib\nc = importlib.import_module('ctypes')", "ctypes"),
        ("open('/proc/self/mem', 'rb')", "memory"),
        # gc objects
        ("import gc\nframes = [o for o in gc.get_objects() if isinstance(o, dict)]", "gc"),
        ("import gc as g\ng.get_referrers(df)", "gc"),
        ("from gc import get_referents as r\nr(x)", "gc"),
        # code the gate cannot read, and code given as text read like the rest
        ("exec(base64.b64decode(blob))", "built at run time"),
        ("import sys\ngetattr(sys, 'mod' + 'ules')", "named at run time"),
        ("exec('import ctypes')", "ctypes"),
        ("%%time\nimport gc\ngc.get_objects()", "gc"),
        ("%time import ctypes", "ctypes"),
    ],
)
def test_each_way_into_the_machinery_is_reviewed(source, what):
    [finding] = tampering(source)
    assert finding.severity == "review" and finding.cell == 0 and finding.output is None
    assert what in finding.message, finding.message
    assert finding.place == "cell 1 [ ]"


@pytest.mark.parametrize(
    "source",
    [
        "import pandas as pd\npd.options.display.max_rows = 100",
        "pd.set_option('display.precision', 2)",
        "%matplotlib inline",
        "%config InlineBackend.figure_format = 'retina'",
        "%%time\ndf = warehouse.query('SELECT 1')",
        "%timeit df.sum()",
        "from IPython.display import display, HTML, Markdown\ndisplay(Markdown('**n**'))",
        "import re\npattern = re.compile(r'^x')\nfrom re import compile\ncompile('[a-')",
        "df.eval('a + b')\npd.eval('1 + 2')",
        "getattr(df, column).mean()\nsetattr(options, name, value)",
        "import sys\nprint(sys.version)",
        "import gc\ngc.collect()",
        "!ls",
        "df?",
        "class Table:\n    def _repr_html_(self):\n        return '<b>x</b>'",
        "exec('x = 1')",
        "from enclave.reports.disclosure import percent, suppress_counts\npercent(a, b, 10)",
        "counts = df.groupby('term').size()\ncounts.name = 'n'",
    ],
)
def test_ordinary_analysis_code_is_not_flagged(source):
    assert tampering(source) == []


def test_an_alias_made_in_one_cell_is_followed_into_the_next():
    findings = tampering("import sys as interpreter", "interpreter.modules.clear()")
    assert [(f.cell, f.place) for f in findings] == [(1, "cell 2 [ ]")]


def test_each_reach_is_named_once_per_cell_and_markdown_is_not_code():
    nb = notebook(("import gc\ngc.get_objects()\ngc.get_referrers(x)\nimport ctypes", []))
    nb.cells.append(new_markdown_cell("We never `import ctypes` or use gc.get_objects()."))
    [finding] = [f for f in Gate().screen(nb).findings if f.rule == "tampering"]
    assert "gc" in finding.message and "ctypes" in finding.message


def test_a_cell_that_does_not_parse_is_reviewed():
    [finding] = tampering("def broken(:\n    pass")
    assert "cannot read" in finding.message


def test_the_check_can_be_turned_off_like_any_other():
    from traitlets.config import Config

    config = Config()
    config.SourceTampering.enabled = False
    report = Gate(config=config).screen(notebook(("import ctypes", [])))
    assert not [f for f in report.findings if f.rule == "tampering"]
