"""``enclave project request|create|add-member|remove-member|approve|withdraw|expire|close|
close-expired|certificate|list|show``: the projects registry, and the end of a project
(``enclave.closure``).

Reads the deployment's config (``--config FILE`` or ``$ENCLAVE_CONFIG``) for the state database
(``EnclaveState.db_url``) and the warehouse (``WarehouseSettings.url``). ``request`` files a
data-access request for a researcher (each named institution's steward decides it in the review
service); ``add-member`` also creates the researcher's Unix account (deliberately, here, never
on first login); ``approve`` is an administrator's override with a stated reason, and
``withdraw`` an administrator's stop: both rebuild the project's warehouse access.
"""

import getpass
import os


def _registry(args, create: bool = False):
    from enclave.config import load_config
    from enclave.consortium import consortium
    from enclave.projects import ProjectRegistry
    from enclave.state import EnclaveState, open_state

    config = load_config(args.config)
    from enclave.audit import keying

    db_url = EnclaveState(config=config).db_url
    keying.use(config, db_url)
    engine = open_state(db_url, create=create)
    return ProjectRegistry(engine, consortium(config)), config


def _actor(args) -> str:
    return args.by or os.environ.get("SUDO_USER") or getpass.getuser()


def _catalog():
    from enclave.warehouse.grant import catalog

    return catalog()


def request(args) -> int:
    from enclave.config import load_config
    from enclave.consortium import consortium
    from enclave.hub.admin import parse_expiry
    from enclave.projects import check_institution, parse_tables

    catalog = _catalog()
    members = consortium(load_config(args.config))
    scopes = {}
    for item in args.institution:  # all checked before the state database is opened
        code, _, tables = item.partition("=")
        code = check_institution(code.strip(), members)
        scopes[code] = parse_tables(tables or "*", catalog, f"--institution {code}")
    registry, _ = _registry(args, create=True)
    project = registry.request(
        args.project,
        purpose=args.purpose,
        expires=parse_expiry(args.expires),
        members=[m.strip() for m in args.members.split(",") if m.strip()],
        scopes=scopes,
        actor=_actor(args),
        catalog=catalog,
    )
    print(f"requested {_show(project)}")
    print("each institution's steward decides in the review service (Data access).")
    return 0


def show(args) -> int:
    from enclave.projects import describe_scope

    registry, _ = _registry(args)
    project = registry.get(args.project)
    if project is None:
        from enclave.errors import EnclaveError

        raise EnclaveError(
            f"project {args.project!r}: no such project; see `enclave project list`."
        )
    print(_show(project))
    print(f"purpose: {project.purpose}")
    for a in project.access:
        scope = describe_scope(a.approved if a.approved is not None else a.requested)
        who = f" by {a.decided_by}" if a.decided_by else ""
        mark = " (administrator's override)" if a.override else ""
        print(f"  {a.institution:<8} {a.status:<9}{who}{mark}: {scope}")
    return 0


def remove_member(args) -> int:
    registry, _ = _registry(args)
    project = registry.remove_member(args.project, args.user, actor=_actor(args))
    print(f"removed {args.user}: {_show(project)}")
    return 0


def withdraw(args) -> int:
    project = _rebuild_access(args, "withdraw")
    print(f"withdrew {args.institution}'s approval: {_show(project)}")
    return 0


def _rebuild_access(args, move: str):
    """An administrator's ``approve`` or ``withdraw`` (``enclave.hub.admin``): the project after
    its warehouse access is rebuilt."""
    from enclave.hub import admin

    registry, config = _registry(args)
    return getattr(admin, move)(
        registry,
        config,
        args.project,
        args.institution,
        actor=_actor(args),
        reason=args.reason,
        url=args.url or "",
    )


def _show(project, closure: str | None = None) -> str:
    institutions = ",".join(project.institutions) or "-"
    members = ",".join(project.members) or "-"
    return (
        f"{project.name:<20} {closure or project.status:<18} until {project.expires}  "
        f"institutions={institutions}  members={members}"
    )


def create(args) -> int:
    from enclave.hub.admin import parse_expiry

    registry, _ = _registry(args, create=True)
    project = registry.create(
        args.project, purpose=args.purpose, expires=parse_expiry(args.expires), actor=_actor(args)
    )
    print(f"created {_show(project)}")
    return 0


def add_member(args) -> int:
    from enclave.hub import admin

    registry, _ = _registry(args)
    account, project = admin.add_member(registry, args.project, args.user, actor=_actor(args))
    print(f"{args.user} (uid {account.pw_uid}) is a member of {_show(project)}")
    return 0


def approve(args) -> int:
    project = _rebuild_access(args, "approve")
    print(f"approved (administrator's override) {_show(project)}")
    return 0


def expire(args) -> int:
    registry, _ = _registry(args)
    project = registry.expire(args.project, actor=_actor(args))
    print(f"expired {_show(project)}")
    return 0


def close(args) -> int:
    from enclave.closure import close_project
    from enclave.hub.closure import stop_sessions

    registry, config = _registry(args)
    record = close_project(
        registry.engine,
        config,
        args.project,
        actor=_actor(args),
        stop_sessions=lambda project: stop_sessions(config, project),
    )
    d = record.details
    print(
        f"closed {args.project}: destroyed {d['items']} item(s), {d['bytes']:,} bytes, in "
        f"{len(d['destroyed'])} location(s); destruction record: audit event {record.seq}. "
        f"`enclave project certificate {args.project}` prints the certificate."
    )
    return 0


def close_expired(args) -> int:
    from enclave.closure import close_expired as run
    from enclave.hub.closure import stop_sessions

    registry, config = _registry(args)
    done = run(
        registry.engine,
        config,
        actor=_actor(args),
        stop_sessions=lambda project: stop_sessions(config, project),
    )
    for project, what in done:
        print(f"{project}: {what}")
    if not done:
        print("nothing to do: no expired project awaits a notice or its destruction.")
    return 0


def certificate(args) -> int:
    from enclave.closure import certificate as text

    registry, _ = _registry(args)
    print(text(registry.engine, args.project), end="")
    return 0


def list_projects(args) -> int:
    from enclave.closure import closed_projects

    registry, _ = _registry(args)
    projects = registry.all()
    closures = closed_projects(registry.engine)
    for project in projects:
        print(_show(project, closures.get(project.name)))
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

    p = add("request", request, "request a project for researchers; stewards decide")
    p.add_argument("project")
    p.add_argument("--purpose", required=True, help="what the data will be used for")
    p.add_argument("--expires", required=True, help="last day + 1 of use, YYYY-MM-DD")
    p.add_argument("--members", required=True, help="researchers, comma-separated")
    p.add_argument(
        "--institution",
        action="append",
        required=True,
        help="CODE or CODE=TABLES: the tables asked for, comma-separated, a table's columns "
        "after ':' joined by '+' (students,cc_awards:term+award_type); repeat per institution",
    )

    p = add("show", show, "a project's request and each institution's decision")
    p.add_argument("project")

    p = add("create", create, "register a project (not yet approved by anyone)")
    p.add_argument("project")
    p.add_argument("--purpose", required=True, help="what the data will be used for")
    p.add_argument("--expires", required=True, help="last day + 1 of use, YYYY-MM-DD")

    p = add("add-member", add_member, "add a researcher (creates their Unix account)")
    p.add_argument("project")
    p.add_argument("user")

    p = add("remove-member", remove_member, "take a researcher off a project")
    p.add_argument("project")
    p.add_argument("user")

    p = add(
        "approve",
        approve,
        "administrator's override: record an institution's approval made outside the enclave",
    )
    p.add_argument("project")
    p.add_argument("--institution", required=True, help="institution code, e.g. CC-101")
    p.add_argument(
        "--reason", required=True, help="the institution's decision this records (audited)"
    )
    p.add_argument("--url", help="warehouse URL (default: WarehouseSettings.url)")

    p = add("withdraw", withdraw, "stop a project's use of an institution's data now")
    p.add_argument("project")
    p.add_argument("--institution", required=True, help="institution code, e.g. CC-101")
    p.add_argument("--reason", required=True, help="why (audited, shown to the members)")
    p.add_argument("--url", help="warehouse URL (default: WarehouseSettings.url)")

    p = add("expire", expire, "end a project's use of data now")
    p.add_argument("project")

    p = add(
        "close",
        close,
        "end a project and destroy its data (sessions stopped first); record the destruction",
    )
    p.add_argument("project")

    add(
        "close-expired",
        close_expired,
        "notify members of expired projects; close those past ProjectClosure.grace_days",
    )

    p = add("certificate", certificate, "print a closed project's destruction certificate")
    p.add_argument("project")

    add("list", list_projects, "list projects with status, institutions and members")


def _config(args) -> int:
    from enclave.hub.config_app import run

    return run(args)


def register_config(groups) -> None:
    """``enclave config``: its traitlets Application is imported only when it runs (``enclave
    --help`` stays quick)."""
    parser = groups.add_parser(
        "config",
        help="every enclave setting with its help (--help-all), a commented config "
        "(--generate-config)",
        add_help=False,
        prefix_chars="+",  # every argument, --help-all too, is the Application's to parse
    )
    parser.add_argument("rest", nargs="*")
    parser.set_defaults(func=_config)
