"""A template's parameters, read from its ``parameters`` cell, and checks of given values.

papermill only warns about an unknown parameter and never checks types, so the enclave reads
the cell itself: each top-level ``name: type = default`` or ``name = default`` is a parameter,
typed by its annotation, else by its literal default. Values from the command line are text and
are converted; values from a grid file are YAML and must already have the right type.
"""

import ast
import difflib
from dataclasses import dataclass

import yaml

from enclave.reports.errors import BadInput

TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # a key of TYPES
    default: object
    optional: bool  # annotated "X | None": None is accepted too
    help: str


def _annotation(node: ast.expr | None) -> tuple[str | None, bool]:
    """(type name, optional) of ``int``, ``str | None``; (None, False) when absent."""
    if node is None:
        return None, False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        if any(isinstance(s, ast.Constant) and s.value is None for s in sides):
            other = next(s for s in sides if not (isinstance(s, ast.Constant) and s.value is None))
            return _annotation(other)[0], True
    if isinstance(node, ast.Name) and node.id in TYPES:
        return node.id, False
    raise ValueError(f"unsupported annotation {ast.unparse(node)!r} (use {', '.join(TYPES)})")


def parse_parameters_cell(source: str) -> dict[str, Parameter]:
    """Parameters declared in the cell's source; raises ValueError naming what is wrong."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ValueError(f"the parameters cell is not valid Python (line {e.lineno})") from e
    lines = source.splitlines()
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, annotation, value = node.target.id, node.annotation, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, annotation, value = node.targets[0].id, None, node.value
        else:
            raise ValueError(
                f"line {node.lineno}: only assignments like `name: int = 3` belong in the "
                "parameters cell"
            )
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError as e:
            raise ValueError(f"line {node.lineno}: the default of {target} is not a literal") from e
        type_name, optional = _annotation(annotation)
        if type_name is None:
            type_name = type(default).__name__
            if type_name not in TYPES:
                raise ValueError(f"line {node.lineno}: annotate {target} with its type")
        comment = lines[node.lineno - 1].partition("#")[2].strip()
        found[target] = Parameter(target, type_name, default, optional, comment)
    return found


def _fits(parameter: Parameter, value) -> object:
    """``value`` as the parameter's type, or raise ValueError."""
    if value is None and parameter.optional:
        return None
    wanted = TYPES[parameter.type]
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)):
        return value
    raise ValueError(f"expected {parameter.type}, got {type(value).__name__} {value!r}")


def _from_text(parameter: Parameter, text: str) -> object:
    if parameter.optional and text.lower() in ("none", "null"):
        return None
    if parameter.type == "str":
        return text
    if parameter.type == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"expected true or false, got {text!r}")
    if parameter.type in ("int", "float"):
        try:
            return TYPES[parameter.type](text)
        except ValueError:
            raise ValueError(f"expected {parameter.type}, got {text!r}") from None
    try:
        return _fits(parameter, yaml.safe_load(text))
    except yaml.YAMLError:
        raise ValueError(f"expected a YAML {parameter.type}, got {text!r}") from None


def _unknown(template_name: str, name: str, declared: dict[str, Parameter]) -> BadInput:
    hint = difflib.get_close_matches(name, declared, n=1)
    known = ", ".join(declared) or "none"
    suggestion = f"did you mean {hint[0]!r}? " if hint else ""
    return BadInput(
        f"{template_name}: unknown parameter {name!r}; {suggestion}the template declares: {known}."
    )


def check_values(
    template_name: str, declared: dict[str, Parameter], given: dict, *, as_text: bool
) -> dict:
    """Defaults overlaid with ``given``, each checked; BadInput (exit 2) on the first bad."""
    values = {name: p.default for name, p in declared.items()}
    for name, value in given.items():
        if name not in declared:
            raise _unknown(template_name, name, declared)
        parameter = declared[name]
        try:
            values[name] = _from_text(parameter, value) if as_text else _fits(parameter, value)
        except ValueError as e:
            raise BadInput(
                f"{template_name}: parameter {name!r}: {e}; give a value of type {parameter.type}."
            ) from None
    return values
