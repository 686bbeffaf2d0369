"""Code that reaches into the machinery recording and displaying what the kernel computed.

The Enclave kernel's structured outputs and provenance are made by code in the researcher's own
process: IPython's display formatter and hooks, wrappers around pandas, numpy and statsmodels,
and the ``enclave`` modules. Code in a cell can replace a formatter, swap a module in
``sys.modules``, unwrap or patch the wrappers, or read and write any object through ``ctypes``
or ``gc``; then what the kernel showed is not what the code computed. Such code is rare in an
analysis and never needed for one, so each use is sent to a reviewer (``review``), named by
what it reaches, with the cell as JupyterLab shows it.

The check reads the code (Python's ``ast``; IPython's magics are translated first, as the
kernel does), not its text, so spacing, aliases (``import sys as s``, ``from gc import
get_objects as g``) and literal ``getattr`` names do not hide a use; code built at run time
(``exec`` of a computed string, ``getattr`` with a computed name on a module) cannot be read,
and is reviewed for that reason.
"""

import ast

from enclave.output_review.checks.base import OutputCheck

# Attributes of IPython's shell (and its kernel) through which outputs are made or sent.
DISPLAY_MACHINERY = {
    "display_formatter": "an IPython display formatter",
    "formatters": "an IPython display formatter",
    "for_type": "an IPython display formatter",
    "for_type_by_name": "an IPython display formatter",
    "type_printers": "an IPython display formatter",
    "deferred_printers": "an IPython display formatter",
    "ipython_display_formatter": "an IPython display formatter",
    "mimebundle_formatter": "an IPython display formatter",
    "displayhook": "a display hook",
    "__displayhook__": "a display hook",
    "display_pub": "the kernel's display publisher",
    "display_trap": "a display hook",
    "excepthook": "an exception hook",
    "showtraceback": "an exception hook",
    "_showtraceback": "an exception hook",
    "events": "the kernel's cell events",
    "ast_transformers": "the kernel's code transformers",
    "input_transformers_cleanup": "the kernel's code transformers",
    "input_transformers_post": "the kernel's code transformers",
    "iopub_socket": "the kernel's message channel",
    "iopub_thread": "the kernel's message channel",
    "session": "the kernel's message channel",
}
# What a cell may use of ``get_ipython()``: what IPython's own magics translate to.
SHELL_ALLOWED = {"run_line_magic", "run_cell_magic", "system", "getoutput"}
# Introspection that reaches a function's insides or a caller's frame (the wrappers' originals,
# the extension's state).
INTROSPECTION = {
    "__wrapped__": "a wrapped function's original",
    "__closure__": "a function's closure",
    "__code__": "a function's code object",
    "__globals__": "a function's globals",
    "__builtins__": "the builtins",
    "f_back": "a caller's frame",
    "f_globals": "a frame's globals",
    "f_locals": "a frame's locals",
    "gi_frame": "a frame",
    "cr_frame": "a frame",
    "tb_frame": "a frame",
}
# Module-level names (after alias resolution) and what using them reaches.
MODULE_NAMES = {
    "sys.displayhook": "a display hook",
    "sys.__displayhook__": "a display hook",
    "sys.excepthook": "an exception hook",
    "sys.modules": "the interpreter's table of modules (sys.modules)",
    "sys.meta_path": "the import machinery",
    "sys.path_hooks": "the import machinery",
    "sys.path_importer_cache": "the import machinery",
    "sys._getframe": "a caller's frame",
    "sys.settrace": "a trace hook",
    "sys.setprofile": "a trace hook",
    "sys.addaudithook": "an audit hook",
    "builtins.__import__": "the import machinery",
    "importlib.reload": "a module reloaded in place",
    "inspect.currentframe": "a caller's frame",
    "inspect.stack": "a caller's frame",
    "inspect.getclosurevars": "a function's closure",
    "gc.get_objects": "objects through the garbage collector (gc)",
    "gc.get_referrers": "objects through the garbage collector (gc)",
    "gc.get_referents": "objects through the garbage collector (gc)",
    "gc.garbage": "objects through the garbage collector (gc)",
    "gc.callbacks": "objects through the garbage collector (gc)",
}
# Modules whose import alone reaches memory or the kernel's internals.
MODULES = {
    "ctypes": "raw memory (ctypes)",
    "_ctypes": "raw memory (ctypes)",
    "cffi": "raw memory (cffi)",
    "ipykernel": "the kernel's internals (ipykernel)",
    "zmq": "the kernel's message channel (zmq)",
    "jupyter_client": "the kernel's message channel (jupyter_client)",
    "IPython.core.formatters": "an IPython display formatter",
    "IPython.core.displayhook": "a display hook",
    "IPython.core.displaypub": "the kernel's display publisher",
    "IPython.core.interactiveshell": "the kernel's shell",
    "IPython.core.events": "the kernel's cell events",
    # the kernel's recording itself (a report's helpers, enclave.reports.disclosure, are API)
    "enclave.kernels": "the kernel's recording code (enclave.kernels)",
}
# Packages whose functions the kernel wraps to record provenance (and the enclave's own):
# assigning to their attributes patches the recording. pandas' options are settings, not code.
PATCHABLE = ("pandas", "numpy", "statsmodels", "collections", "IPython", "enclave")
SETTINGS = ("pandas.options", "pandas.set_option", "numpy.set_printoptions")
# Where a string names raw process memory.
MEMORY_FILES = ("/proc/self/mem", "/proc/self/maps")
DYNAMIC = {"exec", "eval", "compile", "__import__"}
# Cell magics whose body is Python the kernel runs.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "python", "python3"}
# Magics that run code the notebook does not show (files, extensions) or change the display.
MAGICS = {
    "run": "code from a file the gate cannot read (%run)",
    "load": "code from a file the gate cannot read (%load)",
    "load_ext": "an IPython extension (%load_ext)",
    "reload_ext": "an IPython extension (%reload_ext)",
    "unload_ext": "an IPython extension (%unload_ext)",
    "loadpy": "code from a file the gate cannot read (%loadpy)",
}
CONFIG_DISPLAY = ("formatter", "display", "hook")


def literal(node):
    return node.value if isinstance(node, ast.Constant) else None


class Reader(ast.NodeVisitor):
    """Walks one cell's code; ``names`` maps local names to what they were imported as
    (shared across the notebook's cells, in order, as the kernel's namespace is)."""

    def __init__(self, names: dict, shells: set):
        self.names, self.shells, self.found = names, shells, []

    def reaches(self, what: str) -> None:
        if what not in self.found:
            self.found.append(what)

    def dotted(self, node) -> str | None:
        """``a.b.c`` with ``a`` resolved through the imports, or None for anything else."""
        parts = []
        while True:
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(literal(node.args[1]), str)
            ):
                parts.append(node.args[1].value)
                node = node.args[0]
            else:
                break
        if isinstance(node, ast.Name) and node.id in self.names:
            return ".".join([self.names[node.id], *reversed(parts)])
        return None

    def is_shell(self, node) -> bool:
        """``get_ipython()`` or a name bound to it."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            return name == "get_ipython" or self.names.get(name) == "IPython.get_ipython"
        return isinstance(node, ast.Name) and node.id in self.shells

    def module_name(self, name: str) -> None:
        for module, what in MODULES.items():
            if name == module or name.startswith(module + "."):
                self.reaches(what)
        for known, what in MODULE_NAMES.items():
            if name == known or name.startswith(known + "."):
                self.reaches(what)

    def visit_Import(self, node):
        for alias in node.names:
            self.module_name(alias.name)
            if alias.asname:
                self.names[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.names[top] = top

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        self.module_name(node.module)
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            self.module_name(full)
            self.names[alias.asname or alias.name] = full

    def visit_Assign(self, node):
        if len(node.targets) == 1 and self.is_shell(node.value):
            target = node.targets[0]
            if isinstance(target, ast.Name):
                self.shells.add(target.id)
        for target in node.targets:
            self.assigned(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self.assigned(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self.assigned(target)
        self.generic_visit(node)

    def assigned(self, target) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assigned(element)
        elif isinstance(target, ast.Attribute):
            self.patched(self.dotted(target))
            if isinstance(target.value, ast.Name) and target.value.id == "warehouse":
                self.reaches("the enclave's warehouse object")

    def patched(self, name: str | None) -> None:
        if name is None or name.startswith(SETTINGS):
            return
        for package in PATCHABLE:
            if name == package or name.startswith(package + "."):
                self.reaches(f"code the kernel records with ({package}), patched in place")

    def visit_Attribute(self, node):
        if node.attr in DISPLAY_MACHINERY and (
            self.is_shell(node.value) or node.attr in ("display_formatter", "display_pub")
        ):
            self.reaches(DISPLAY_MACHINERY[node.attr])
        elif self.is_shell(node.value) and node.attr not in SHELL_ALLOWED:
            self.reaches("the kernel's shell (get_ipython)")
        if node.attr in INTROSPECTION:
            self.reaches(INTROSPECTION[node.attr])
        name = self.dotted(node)
        if name is not None:
            self.module_name(name)
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.names:
            self.module_name(self.names[node.id])
        elif node.id == "__builtins__":
            self.reaches(INTROSPECTION["__builtins__"])

    def visit_Constant(self, node):
        if isinstance(node.value, str) and any(path in node.value for path in MEMORY_FILES):
            self.reaches("raw process memory (/proc/self/mem)")

    def visit_Call(self, node):
        func = node.func
        name = self.names.get(func.id, func.id) if isinstance(func, ast.Name) else self.dotted(func)
        first = node.args[0] if node.args else None
        if name in DYNAMIC or name in ("builtins.exec", "builtins.eval", "importlib.import_module"):
            self.dynamic(name, first)
        elif name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            self.attribute_call(name, node.args[0], literal(node.args[1]))
        elif name == "vars" and first is not None and self.dotted(first):
            self.reaches("a module's namespace as a dictionary (vars)")
        elif isinstance(func, ast.Attribute) and self.is_shell(func.value):
            self.magic(func.attr, [literal(a) for a in node.args])
        self.generic_visit(node)

    def dynamic(self, name: str, first) -> None:
        text = literal(first)
        if not isinstance(text, str):
            self.reaches(f"code built at run time ({name.rsplit('.', 1)[-1]})")
        elif name in ("__import__", "importlib.import_module"):
            self.module_name(text)
        else:
            self.read(text)

    def attribute_call(self, name: str, target, attribute) -> None:
        """``getattr``/``setattr``/``delattr``/``hasattr`` as the attribute use they are."""
        owner = self.dotted(target) or ("" if self.is_shell(target) else None)
        if not isinstance(attribute, str):
            if owner is not None:
                self.reaches("a module's attribute named at run time")
            return
        if attribute in INTROSPECTION:
            self.reaches(INTROSPECTION[attribute])
        if attribute in DISPLAY_MACHINERY and (owner == "" or attribute == "display_formatter"):
            self.reaches(DISPLAY_MACHINERY[attribute])
        if owner:
            self.module_name(f"{owner}.{attribute}")
        if name in ("setattr", "delattr"):
            if isinstance(target, ast.Name) and target.id == "warehouse":
                self.reaches("the enclave's warehouse object")
            self.patched(f"{owner}.{attribute}" if owner else None)

    def magic(self, kind: str, values: list) -> None:
        """What ``%magic`` and ``%%magic`` (as IPython translates them) run or change."""
        if not values or not isinstance(values[0], str):
            return
        magic, line = values[0].lstrip("%"), values[1] if len(values) > 1 else None
        if kind == "run_line_magic":
            if magic in MAGICS:
                self.reaches(MAGICS[magic])
            elif magic == "config" and any(w in str(line).lower() for w in CONFIG_DISPLAY):
                self.reaches("the kernel's display configuration (%config)")
            elif magic in ("time", "timeit", "prun") and isinstance(line, str):
                self.read(line)
        elif kind == "run_cell_magic" and magic in PYTHON_CELL_MAGICS and len(values) == 3:
            self.read(values[2] if isinstance(values[2], str) else "")

    def read(self, source: str) -> None:
        """Code given as text (a literal ``exec``, a cell magic's body): read it the same way."""
        try:
            tree = parse(source)
        except SyntaxError:
            self.reaches("code the gate cannot read")
            return
        self.visit(tree)


def parse(source: str) -> ast.Module:
    """The cell as the kernel runs it: IPython's translation of magics, ``!`` and ``?``,
    only when plain Python does not parse (IPython's import costs the gate 80 ms)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))


def listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class SourceTampering(OutputCheck):
    rule = "tampering"
    advice = (
        "the outputs may not be what the code computed; remove that code, or explain to the "
        "reviewer why the analysis needs it"
    )

    def check_notebook(self, nb, resources):
        names, shells = {}, set()
        for index, cell in enumerate(nb["cells"]):
            if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
                continue
            reader = Reader(names, shells)
            try:
                reader.visit(parse(cell["source"]))
            except SyntaxError:
                reader.reaches("code the gate cannot read")
            if reader.found:
                self.flag(
                    resources, index, None, "review", f"the code reaches {listed(reader.found)}"
                )
