"""The ``enclave`` command: one entry point, one sub-command group per part of the system.

Each group lives with its part (``warehouse/cli.py``, ``output_review/cli.py``, ...) and is
found by its ``enclave.commands`` entry point (``register(subparsers)``), so the core never
imports the parts above it; handlers import their heavy dependencies lazily so that
``enclave --help`` stays fast.
"""

import argparse
import logging
import sys
from importlib.metadata import distribution

from enclave import __version__
from enclave.errors import EnclaveError, explain

COMMANDS_ENTRY_POINT = "enclave.commands"


def command_group(groups, name: str, help_text: str):
    """Add the command group ``name``; return ``add(command, handler, help) -> parser``.

    Every command it adds takes ``--config`` (the deployment's traitlets file) and runs
    ``handler(args)``, which returns the exit status.
    """
    if name in groups.choices:  # a second part adds commands to the same group
        commands = groups.choices[name].enclave_commands
    else:
        parser = groups.add_parser(name, help=help_text)
        commands = parser.add_subparsers(dest="command", metavar="ACTION")
        commands.required = True
        parser.enclave_commands = commands

    def add(command: str, handler, command_help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(command, help=command_help)
        sub.add_argument("--config", help="the deployment's config file (default: $ENCLAVE_CONFIG)")
        sub.set_defaults(func=handler)
        return sub

    return add


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enclave", description="A secure research environment for consortium student records."
    )
    parser.add_argument("--version", action="version", version=f"enclave {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    groups.required = True
    # the project's own entry points only: scanning every installed distribution's for the
    # group cost `enclave --help` about 20 ms of CPU in a full venv
    commands = distribution("enclave").entry_points.select(group=COMMANDS_ENTRY_POINT)
    for entry_point in sorted(commands, key=lambda e: e.name):
        entry_point.load()(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries(args.debug)
    try:
        return int(args.func(args) or 0)
    except EnclaveError as e:
        print(f"enclave: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("enclave: interrupted; nothing was committed.", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        fault = explain(e)  # a full disk, a lost database: the machine's state, not a bug
        if fault is not None:
            print(f"enclave: error: {fault}", file=sys.stderr)
            return fault.exit_code
        # never echo values: only the exception type and where to look
        print(
            f"enclave: internal error ({type(e).__name__}); rerun with --debug for details.",
            file=sys.stderr,
        )
        return 70


def _quiet_libraries(debug: bool) -> None:
    """A command's stderr is its own one-line messages: libraries' log lines (psycopg's "error
    ignored terminating <psycopg.Copy [BAD]>" after a lost connection) go only with --debug."""
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.DEBUG)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


if __name__ == "__main__":
    sys.exit(main())
