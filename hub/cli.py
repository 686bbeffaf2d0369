"""``enclave project create|add-member|approve|expire|list``: the approved-projects registry.

Reads the deployment's config (``--config FILE`` or ``$ENCLAVE_CONFIG``) for the state database
(``EnclaveState.db_url``) and the warehouse (``WarehouseSettings.url``). ``add-member`` also
creates the researcher's Unix account (deliberately, here, never on first login); ``approve``
(re)builds the project's read-only warehouse access for the institutions approved so far.
"""

import getpass
import os
from datetime import date


def _registry(args):
    from enclave.config import load_config
    from enclave.projects import ProjectRegistry
    from enclave.state import EnclaveState, make_engine

    config = load_config(args.config)
    return ProjectRegistry(make_engine(EnclaveState(config=config).db_url)), config


def _actor(args) -> str:
    return args.by or os.environ.get("SUDO_USER") or getpass.getuser()


def _expiry(text: str) -> date:
    from enclave.errors import EnclaveError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EnclaveError(f"--expires {text!r}: not a date; use YYYY-MM-DD.") from None


def _show(project) -> str:
    institutions = ",".join(project.institutions) or "-"
    members = ",".join(project.members) or "-"
    return (
        f"{project.name:<20} {project.status:<18} until {project.expires}  "
        f"institutions={institutions}  members={members}"
    )


def create(args) -> int:
    registry, _ = _registry(args)
    project = registry.create(
        args.project, purpose=args.purpose, expires=_expiry(args.expires), actor=_actor(args)
    )
    print(f"created {_show(project)}")
    return 0


def add_member(args) -> int:
    from enclave.hub.isolation.accounts import check_username, create_account

    registry, _ = _registry(args)
    check_username(args.user)
    if registry.get(args.project) is None:
        from enclave.errors import EnclaveError

        raise EnclaveError(
            f"project {args.project!r}: no such project; see `enclave project list`."
        )
    account = create_account(args.user)
    project = registry.add_member(args.project, args.user, actor=_actor(args))
    print(f"{args.user} (uid {account.pw_uid}) is a member of {_show(project)}")
    return 0


def approve(args) -> int:
    from enclave.warehouse.db import WarehouseSettings
    from enclave.warehouse.grant import grant_project

    registry, config = _registry(args)
    url = args.url or WarehouseSettings(config=config).url
    project = registry.approve(
        args.project,
        args.institution,
        actor=_actor(args),
        grant=lambda name, institutions: grant_project(url, name, institutions),
    )
    print(f"approved {_show(project)}")
    return 0


def expire(args) -> int:
    registry, _ = _registry(args)
    project = registry.expire(args.project, actor=_actor(args))
    print(f"expired {_show(project)}")
    return 0


def list_projects(args) -> int:
    registry, _ = _registry(args)
    projects = registry.all()
    for project in projects:
        print(_show(project))
    if not projects:
        print("no projects yet; create one with `enclave project create`.")
    return 0


def register(groups) -> None:
    from enclave.cli import command_group

    add_group_command = command_group(
        groups, "project", "approved projects: create, members, approvals"
    )

    def add(name, handler, help_text):
        command = add_group_command(name, handler, help_text)
        command.add_argument("--by", help="who is acting (recorded in the audit trail)")
        return command

    p = add("create", create, "register a project (not yet approved by anyone)")
    p.add_argument("project")
    p.add_argument("--purpose", required=True, help="what the data will be used for")
    p.add_argument("--expires", required=True, help="last day + 1 of use, YYYY-MM-DD")

    p = add("add-member", add_member, "add a researcher (creates their Unix account)")
    p.add_argument("project")
    p.add_argument("user")

    p = add("approve", approve, "record one institution's approval; grant warehouse access")
    p.add_argument("project")
    p.add_argument("--institution", required=True, help="institution code, e.g. CC-101")
    p.add_argument("--url", help="warehouse URL (default: WarehouseSettings.url)")

    p = add("expire", expire, "end a project's use of data now")
    p.add_argument("project")

    add("list", list_projects, "list projects with status, institutions and members")
