"""The review service's data-access pages and API (``access``, ``access/new``, decisions,
withdrawals, member removal): what ``access.AccessRequests`` does, for people and scripts.

Pages: researchers request and follow their projects; each institution's steward sees what
asks for its data and approves (all, or the tables and columns ticked), declines or withdraws,
each confirmed on a page of its own before anything is recorded. API (``api/access``): the same
as JSON, for the CLI and tests.
"""

from datetime import date

from pydantic import Field
from tornado import web
from tornado.ioloop import IOLoop

from enclave.bodies import Body, parse_body
from enclave.projects import AccessStatus
from enclave.review_service.api import APIHandler
from enclave.review_service.errors import BadSubmission
from enclave.review_service.pages import PageHandler

TEXT = 4000


def parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise BadSubmission(f"{field}: not a date; use YYYY-MM-DD.") from None


class AccessHandlerMixin:
    @property
    def access(self):
        return self.settings["review_access"]

    async def off_loop(self, fn, *args, **kwargs):
        """A change rebuilds warehouse access (seconds for an extract): not on the IO loop."""
        return await IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))


class AccessPage(AccessHandlerMixin, PageHandler):
    @web.authenticated
    def get(self):
        message = ""
        if requested := self.get_argument("requested", ""):
            message = f"Project {requested} was requested: each institution's steward decides."
        elif withdrawn := self.get_argument("withdrawn", ""):
            returned = self.get_argument("returned", "0")
            message = (
                f"{withdrawn}'s approval was withdrawn: the project's sessions stop and "
                f"{returned} submission(s) that used its data went back to their researchers."
            )
        self.show(message[:300])

    def show(self, message: str = ""):
        from enclave.warehouse.grant import KEY_COLUMNS

        actor = self.actor
        items = []
        for p in self.access.visible(actor):
            rows = []
            for a in p.access:
                rows.append(
                    {
                        "a": a,
                        "mine": a.institution in actor.stewards,
                        "asked": self.access.columns_of(a.requested),
                        "approved": self.access.columns_of(a.approved)
                        if a.status == AccessStatus.APPROVED
                        else None,
                    }
                )
            approving = set(actor.stewards) & set(p.institutions)
            items.append({"p": p, "rows": rows, "can_remove": bool(actor.is_admin or approving)})
        self.render_page(
            "access.html",
            items=items,
            message=message,
            waiting=self.access.waiting_for(actor),
            can_request=actor.can_submit or actor.is_admin,
            institutions=self.review_settings.institutions,
            key_columns=KEY_COLUMNS,
        )


class NewAccessRequestPage(AccessHandlerMixin, PageHandler):
    @web.authenticated
    def get(self):
        self.show_form({})

    def show_form(self, form: dict, error: str = ""):
        from enclave.warehouse.grant import KEY_COLUMNS

        defaults = {"project": "", "purpose": "", "expires": "", "members": ""}
        self.set_status(400 if error else 200)
        self.render_page(
            "access_new.html",
            form={**defaults, "institutions": [], "tables": [], **form},
            error=error,
            institutions=self.review_settings.institutions,
            catalog=self.access.catalog,
            key_columns=KEY_COLUMNS,
        )

    @web.authenticated
    def post(self):
        arg = self.get_body_argument
        form = {
            "project": arg("project", "").strip(),
            "purpose": arg("purpose", ""),
            "expires": arg("expires", ""),
            "members": arg("members", ""),
            "institutions": self.get_body_arguments("institution"),
            "tables": self.get_body_arguments("table"),
        }
        try:
            scope = self.access.scope_from(
                "*",
                form["tables"],
                {t: self.get_body_arguments(f"col-{t}") for t in form["tables"]},
            )
            if not form["institutions"]:
                raise BadSubmission(
                    "institutions: tick at least one institution whose data you need."
                )
            project = self.access.request(
                self.actor,
                form["project"],
                purpose=form["purpose"],
                expires=parse_date(form["expires"], "expires"),
                members=[m.strip() for m in form["members"].split(",") if m.strip()],
                scopes=dict.fromkeys(form["institutions"], scope),
            )
        except BadSubmission as e:
            self.show_form(form, str(e))
            return
        self.redirect(f"{self.settings['review_prefix']}access?requested={project.name}")


class AccessDecisionForm(AccessHandlerMixin, PageHandler):
    """Approve (what is ticked) or decline: shown back first, recorded once confirmed."""

    @web.authenticated
    async def post(self, name, institution):
        actor = self.actor
        project = self.access.get(actor, name)
        asked = project.access_of(institution)
        if asked is None:
            raise BadSubmission(f"project {name}: {institution} was not asked for its data.")
        decision = self.get_body_argument("decision", "")
        comment = self.get_body_argument("comment", "")
        tables = self.get_body_arguments("table")
        columns = {t: self.get_body_arguments(f"col-{t}") for t in tables}
        scope = None
        if decision == "approve":
            scope = self.access.scope_from(asked.requested, tables, columns)
        elif decision != "decline":
            raise BadSubmission("decision: choose approve or decline.")
        if self.get_body_argument("confirmed", "") != "yes":
            narrower = scope is not None and self.access.columns_of(
                scope
            ) != self.access.columns_of(asked.requested)
            fields = [("decision", decision), ("comment", comment)]
            fields += [("table", t) for t in tables]
            fields += [(f"col-{t}", c) for t in tables for c in columns[t]]
            self.render_page(
                "access_confirm.html",
                what="Approve less than asked"
                if narrower
                else ("Approve" if decision == "approve" else "Decline"),
                headline=(
                    f"{institution}'s data for project {name}: "
                    + (
                        "approve only these tables and columns:"
                        if narrower
                        else "approve everything asked for:"
                        if decision == "approve"
                        else "decline."
                    )
                ),
                scope=self.access.columns_of(scope) if scope is not None else None,
                consequences=[
                    "The project's access is rebuilt at once: its members read exactly this."
                ]
                if decision == "approve"
                else ["The project gets none of your institution's data."],
                comment=comment,
                fields=fields,
                action=self.request.path,
                danger=decision == "decline",
            )
            return
        await self.off_loop(
            self.access.decide, actor, name, institution, decision, scope=scope, comment=comment
        )
        self.redirect(f"{self.settings['review_prefix']}access")


class AccessWithdrawForm(AccessHandlerMixin, PageHandler):
    @web.authenticated
    async def post(self, name, institution):
        actor = self.actor
        self.access.get(actor, name)
        comment = self.get_body_argument("comment", "")
        if self.get_body_argument("confirmed", "") != "yes":
            self.render_page(
                "access_confirm.html",
                what="Withdraw the approval",
                headline=f"Withdraw {institution}'s approval of project {name}.",
                scope=None,
                consequences=[
                    "The project's running sessions stop within seconds; the next ones see "
                    "none of your institution's data.",
                    "Its warehouse access is rebuilt without your institution.",
                    "Submissions of the project that used your data go back to their researchers.",
                ],
                comment=comment,
                fields=[("comment", comment)],
                action=self.request.path,
                danger=True,
            )
            return
        returned = await self.off_loop(self.access.withdraw, actor, name, institution, comment)
        self.redirect(
            f"{self.settings['review_prefix']}access?withdrawn={institution}&returned={len(returned)}"
        )


class RemoveMemberForm(AccessHandlerMixin, PageHandler):
    @web.authenticated
    def post(self, name, user):
        self.access.remove_member(self.actor, name, user)
        self.redirect(f"{self.settings['review_prefix']}access")


# -- API ---------------------------------------------------------------------------------------
Scope = str | dict[str, list[str] | None]


class AccessRequestBody(Body):
    project: str = Field(max_length=100)
    purpose: str = Field(max_length=TEXT)
    expires: str = Field(max_length=20)
    members: list[str] = Field([], max_length=100)
    institutions: dict[str, Scope] = Field(max_length=50)


class AccessDecisionBody(Body):
    decision: str = Field(max_length=20)
    tables: dict[str, list[str] | None] | None = None
    comment: str = Field("", max_length=TEXT)


class WithdrawBody(Body):
    comment: str = Field(max_length=TEXT)


def project_json(p) -> dict:
    return {
        "project": p.name,
        "purpose": p.purpose,
        "status": p.status,
        "expires": p.expires.isoformat(),
        "requested_by": p.requested_by,
        "members": list(p.members),
        "institutions": {
            a.institution: {
                "status": a.status,
                "requested": a.requested,
                "approved": a.approved,
                "decided_by": a.decided_by,
                "comment": a.comment,
                "override": a.override,
            }
            for a in p.access
        },
    }


class AccessListHandler(AccessHandlerMixin, APIHandler):
    def get(self):
        self.write_json({"projects": [project_json(p) for p in self.access.visible(self.actor)]})

    def post(self):
        body = parse_body(AccessRequestBody, self.request.body, BadSubmission)
        project = self.access.request(
            self.actor,
            body.project,
            purpose=body.purpose,
            expires=parse_date(body.expires, "expires"),
            members=body.members,
            scopes=body.institutions,
        )
        self.write_json(project_json(project), status=201)


class AccessDecisionHandler(AccessHandlerMixin, APIHandler):
    async def post(self, name, institution):
        body = parse_body(AccessDecisionBody, self.request.body, BadSubmission)
        project = await self.off_loop(
            self.access.decide,
            self.actor,
            name,
            institution,
            body.decision,
            scope=body.tables,
            comment=body.comment,
        )
        self.write_json(project_json(project))


class AccessWithdrawHandler(AccessHandlerMixin, APIHandler):
    async def post(self, name, institution):
        body = parse_body(WithdrawBody, self.request.body, BadSubmission)
        returned = await self.off_loop(
            self.access.withdraw, self.actor, name, institution, body.comment
        )
        self.write_json({**project_json(self.access.get(self.actor, name)), "returned": returned})
