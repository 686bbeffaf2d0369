"""The gate: runs every enabled check over every cell and collects one report.

It fails closed: built-in and entry-point checks (group ``enclave.output_checks``) are all on
unless configured off, a gate with no enabled check refuses to run, a check that cannot be
loaded stops the gate, and a check that raises on a cell gives that cell a ``review`` finding.
"""

from dataclasses import replace
from importlib.metadata import entry_points

from traitlets import List, TraitError, Unicode
from traitlets.config import LoggingConfigurable

from enclave.errors import EnclaveError
from enclave.output_review import structured
from enclave.output_review.checks.base import (
    FINDINGS,
    INSTITUTIONS,
    POLICY,
    PRINTED,
    STRUCTURES,
    OutputCheck,
)
from enclave.output_review.checks.direct_identifiers import DirectIdentifiers
from enclave.output_review.checks.disclosure import StatisticalDisclosure
from enclave.output_review.checks.images import Images
from enclave.output_review.checks.opaque_outputs import OpaqueOutputs
from enclave.output_review.checks.oversized import Oversized
from enclave.output_review.checks.record_listings import RecordListings
from enclave.output_review.checks.secrets import Secrets
from enclave.output_review.checks.small_counts import SmallCounts
from enclave.output_review.checks.student_keys import StudentKeys
from enclave.output_review.checks.suppression import Suppression
from enclave.output_review.checks.tampering import SourceTampering
from enclave.output_review.findings import SEVERITY_RANK, Finding, GateReport
from enclave.output_review.policy import DisclosurePolicy, PolicyResolver, institution_rules
from enclave.output_review.reader import (  # noqa: F401  (public API: gate.read_notebook)
    cyclic_gc_paused,
    read_notebook,
)
from enclave.output_review.tables import find_tables
from enclave.output_review.texts import cell_texts

ENTRY_POINT_GROUP = "enclave.output_checks"
BUILT_IN_CHECKS = (
    StudentKeys,
    DirectIdentifiers,
    SmallCounts,
    StatisticalDisclosure,
    Suppression,
    RecordListings,
    Images,
    OpaqueOutputs,
    Oversized,
    Secrets,
    SourceTampering,
)


class Gate(LoggingConfigurable):
    """Screens a notebook: ``Gate(config=cfg).screen(nb)`` returns a :class:`GateReport`."""

    disabled_entry_points = List(
        Unicode(),
        help="""Names of ``enclave.output_checks`` entry points not to load. Prefer
        ``c.<CheckClass>.enabled = False``, which also works for built-in checks.""",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        try:
            checks = [cls(parent=self) for cls in self.check_classes()]
        except TraitError as e:  # a policy value of the wrong type or out of range
            raise EnclaveError(f"output check configuration: {e}", exit_code=2) from None
        self.checks = [check for check in checks if check.enabled]
        try:
            base = DisclosurePolicy(parent=self).rules()
        except TraitError as e:
            raise EnclaveError(f"disclosure policy configuration: {e}", exit_code=2) from None
        members, entries = consortium_policies(self.config)
        self.policy = PolicyResolver(base, institution_rules(base, entries), members)
        if not self.checks:
            raise EnclaveError(
                "output checks: every check is disabled; the gate refuses to pass unscreened "
                "outputs. Enable at least one check in the configuration.",
                exit_code=2,
            )

    def check_classes(self) -> list[type]:
        classes = list(BUILT_IN_CHECKS)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.disabled_entry_points:
                continue
            try:
                cls = ep.load()
            except Exception as e:  # a check that cannot load must not silently vanish
                raise EnclaveError(
                    f"output check '{ep.name}' ({ep.value}) cannot be loaded "
                    f"({type(e).__name__}); fix or uninstall it, or add it to "
                    "Gate.disabled_entry_points.",
                    exit_code=2,
                ) from e
            if not (isinstance(cls, type) and issubclass(cls, OutputCheck)):
                raise EnclaveError(
                    f"output check '{ep.name}' ({ep.value}) is not a subclass of "
                    "output_review.checks.base.OutputCheck; fix the entry point.",
                    exit_code=2,
                )
            if cls not in classes:
                classes.append(cls)
        return classes

    def screen(self, nb, name: str = "", institutions=None) -> GateReport:
        """Screen ``nb``. ``institutions``: whose data the notebook read (its lineage), when
        the caller knows; an output without structured data is judged by the strictest
        policy among them (among all members when unknown)."""
        resources = {FINDINGS: [], POLICY: self.policy, INSTITUTIONS: institutions}
        with cyclic_gc_paused():
            try:
                for index, cell in enumerate(nb["cells"]):
                    resources[PRINTED] = {}
                    resources[STRUCTURES] = self.structures(cell, index, resources)
                    for check in self.checks:
                        try:
                            check.preprocess_cell(cell, resources, index)
                        except Exception as e:
                            self.failed(check, index, resources, e)
                resources[STRUCTURES] = {}
                # notebook-level checks last: they may compare what the cells showed
                for check in self.checks:
                    try:
                        check.check_notebook(nb, resources)
                    except Exception as e:
                        self.failed(check, None, resources, e)
                return GateReport(name, numbered(merge(resources[FINDINGS]), nb))
            finally:
                # they hold output text: never keep it past a screen
                find_tables.cache_clear()
                cell_texts.cache_clear()

    def structures(self, cell, index: int, resources) -> dict:
        """The cell's trusted structured outputs; an untrusted one is reviewed, its text read."""
        found = {}
        for number, output in enumerate(cell.get("outputs", ())):
            try:
                structure = structured.read(cell, output)
            except Exception as e:  # Untrusted says why; anything else fails closed alike
                why = (
                    str(e)
                    if isinstance(e, structured.Untrusted)
                    else f"the structured data could not be read ({type(e).__name__})"
                )
                resources[FINDINGS].append(
                    Finding(
                        index,
                        number,
                        "structured-data",
                        "review",
                        f"{why}; the gate checked the visible text instead, and a reviewer "
                        "must confirm the output.",
                    )
                )
                continue
            if structure is None:
                continue
            if structure.printed_in is not None:  # describes part of a stream output
                stream, start, end = structure.printed_in
                resources[PRINTED].setdefault(stream, []).append(structure)
            else:
                found[number] = structure
        return found

    def failed(self, check, cell, resources, e: Exception) -> None:
        """A check raised on ``cell`` (None: the notebook): a reviewer must look there."""
        # never log the exception text: it may quote output values
        self.log.warning("check %s failed on cell %s: %s", check.rule, cell, type(e).__name__)
        resources[FINDINGS].append(
            Finding(
                cell,
                None,
                "check-failed",
                "review",
                f"check '{check.rule}' failed "
                f"({type(e).__name__}) here; a reviewer must inspect this "
                f"{'cell' if cell is not None else 'notebook'} by hand.",
            )
        )


def consortium_policies(config) -> tuple[list[str], dict]:
    """The member institutions and each one's ``disclosure`` settings (``Consortium``)."""
    from enclave.consortium import consortium

    members = consortium(config)
    return members.codes, members.disclosure()


def numbered(findings: list[Finding], nb) -> list[Finding]:
    """Each finding with its cell's prompt number, as JupyterLab shows it."""
    cells = nb["cells"]
    out = []
    for f in findings:
        count = cells[f.cell].get("execution_count") if f.cell is not None else None
        out.append(replace(f, execution_count=count if isinstance(count, int) else None))
    return out


def merge(findings) -> list[Finding]:
    """One finding per place and rule, the worst severity first found; ordered by place."""
    kept: dict[tuple, Finding] = {}
    for f in findings:
        if not isinstance(f, Finding):
            f = Finding(**f)  # third-party checks may report plain dicts
        key = (f.cell, f.output, f.rule)
        if key not in kept or SEVERITY_RANK[f.severity] > SEVERITY_RANK[kept[key].severity]:
            kept[key] = f

    def place(f):
        return (-1 if f.cell is None else f.cell, -1 if f.output is None else f.output)

    return sorted(kept.values(), key=place)
