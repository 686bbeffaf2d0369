"""The review service process: a hub-managed JupyterHub service at ``/services/review/``.

The hub starts it (``python -m enclave.review_service``) with its OAuth client and API token
in the environment; it reads the settings the hub wrote at start (``$ENCLAVE_SETTINGS_FILE``,
never running the hub's config file) for the state database, the frozen store and the rules.
All state lives in the database and the store, so a restart loses nothing; approved requests
whose package was not built yet are built at start.
"""

import asyncio
import functools
import hashlib
import json
import logging
import os
import secrets
import signal
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from enclave.review_service import access_pages, api, pages
from enclave.review_service.release import build_package
from enclave.review_service.store import FrozenStore
from enclave.scratch import Scratch

log = logging.getLogger("enclave.review")
NOTEBOOKS_KEPT = 4  # parsed frozen notebooks kept for the pages (each is read once per view)
# what the pages say about the enclave: the hub's EnclavePages settings (hub/start_page.py)
SITE_DEFAULTS = {
    "site_name": "Consortium research enclave",
    "contact_name": "the enclave's administrators",
    "contact_email": "",
}


@functools.cache
def renderer_version() -> str:
    """A digest of the renderer and its template: a cached rendering made by another version
    (say, before tables were sanitized properly) is never served."""
    from enclave.output_review import render
    from enclave.templates import template_dir

    digest = hashlib.sha256(Path(render.__file__).read_bytes())
    for path in sorted(template_dir("review").rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def site_settings(config) -> dict:
    """The hub's page settings from the one configuration (read by name: the review service
    sits below the hub and does not import it)."""
    section = config.get("EnclavePages", {})
    return {key: section.get(key, default) for key, default in SITE_DEFAULTS.items()}


class ReviewApplication(web.Application):
    def __init__(
        self, workflow, settings, prefix: str, cookie_secret: bytes, site=None, access=None
    ):
        self.workflow = workflow
        self._notebooks: OrderedDict = OrderedDict()
        self.run_progress = {}
        self._renderings: dict = {}  # sha256 -> the rendering being made (one at a time each)
        p = prefix if prefix.endswith("/") else prefix + "/"
        rid = r"(r-[0-9a-f]{10})"
        name, code, user = (
            r"([a-z][a-z0-9_]{1,29})",
            r"([A-Z0-9]{1,10}-[0-9A-Z]{1,10})",
            r"([a-z][a-z0-9_-]{0,30})",
        )
        routes = [
            (p, pages.QueuePage),
            (p + r"oauth_callback", HubOAuthCallbackHandler),
            (p + rf"requests/{rid}", pages.RequestPage),
            (p + r"mine", pages.MyRequestsPage),
            (p + r"steward", pages.StewardPage),
            (p + rf"requests/{rid}/notebook", pages.RenderedNotebook),
            (p + rf"requests/{rid}/changes", pages.RoundChanges),
            (p + rf"requests/{rid}/decision", pages.DecisionForm),
            (p + rf"requests/{rid}/comment", pages.CommentForm),
            (p + rf"requests/{rid}/withdraw", pages.WithdrawForm),
            (p + rf"requests/{rid}/release", pages.ReleaseDownload),
            (p + r"api/requests", api.RequestListHandler),
            (p + r"api/submit", api.SubmitHandler),
            (p + rf"api/requests/{rid}", api.RequestHandler),
            (p + rf"api/requests/{rid}/decision", api.DecisionHandler),
            (p + rf"api/requests/{rid}/comments", api.CommentHandler),
            (p + rf"api/requests/{rid}/withdraw", api.WithdrawHandler),
            (p + r"access", access_pages.AccessPage),
            (p + r"access/new", access_pages.NewAccessRequestPage),
            (p + rf"access/{name}/{code}/decision", access_pages.AccessDecisionForm),
            (p + rf"access/{name}/{code}/withdraw", access_pages.AccessWithdrawForm),
            (p + rf"access/{name}/members/{user}/remove", access_pages.RemoveMemberForm),
            (p + r"api/access", access_pages.AccessListHandler),
            (p + rf"api/access/{name}/{code}/decision", access_pages.AccessDecisionHandler),
            (p + rf"api/access/{name}/{code}/withdraw", access_pages.AccessWithdrawHandler),
            (p + r"api/waiting", api.WaitingHandler),
            (p + r"api/notices", api.NoticesHandler),
        ]
        super().__init__(
            routes,
            cookie_secret=cookie_secret,
            review_workflow=workflow,
            review_access=access or access_requests(workflow),
            review_settings=settings,
            review_prefix=p,
            review_jinja=pages.make_jinja_env(),
            review_site={**SITE_DEFAULTS, **(site or {})},
            login_url=url_path_join(p, "oauth_callback"),  # HubOAuth redirects from there
            log_function=log_request,
        )

    async def build_release(self, request_id: str) -> str | None:
        """Build the package in a worker thread; "released" once it exists."""
        try:
            sha = await IOLoop.current().run_in_executor(
                None, self.workflow.release, request_id, self.package_builder
            )
        except Exception as e:  # stays "approved": rebuilt at the next start
            log.error("release of %s failed (%s); it stays approved", request_id, type(e).__name__)
            return None
        return "released" if sha else None

    def package_builder(self, request, progress) -> bytes:
        """The package of the re-executed notebook when the round was re-executed (the
        submitted one only when released without re-execution)."""
        from enclave.output_review.gate import read_notebook

        run = self.workflow.run_of(request)
        reexecution = json.loads(run.result) if run is not None and run.sha256 else None
        sha256 = run.sha256 if reexecution else request.sha256
        self.workflow.store.verify(sha256)
        path = self.workflow.store.path(sha256)
        return build_package(
            request,
            progress,
            path.read_bytes(),
            read_notebook(path),
            reexecution,
            self.workflow.settings.institutions,
        )

    async def notebook(self, request):
        """The frozen notebook of ``request`` (a request or round row), parsed once and kept
        for the next pages (a few, by SHA-256)."""
        nb = self._notebooks.get(request.sha256)
        if nb is None:
            nb = await IOLoop.current().run_in_executor(None, self._read_frozen, request)
            self._notebooks[request.sha256] = nb
            while len(self._notebooks) > NOTEBOOKS_KEPT:
                self._notebooks.popitem(last=False)
        self._notebooks.move_to_end(request.sha256)
        return nb

    def _read_frozen(self, request):
        from enclave.output_review.gate import read_notebook

        self.workflow.verify_frozen(request)
        return read_notebook(self.workflow.store.path(request.sha256))

    @staticmethod
    def gate_report(request):
        from enclave.review_service.release import gate_report_from_record

        return gate_report_from_record(json.loads(request.gate_report))

    def reexecution_view(self, request):
        """What the trusted re-execution of ``request``'s round says, for its page
        (``reexec.html``); None when the round is not re-executed."""
        from enclave.review_service.reexecution import page_view

        run = self.workflow.run_of(request)
        if run is None:
            return None
        queue = [(r.request_id, r.round) for r in self.workflow.queue()]
        return page_view(run, queue, self.run_progress.get((run.request_id, run.round)))

    def reexecution_json(self, request) -> dict | None:
        """``reexecution_view`` for the API: marks keyed ``"cell:output"``."""
        view = self.reexecution_view(request)
        if view is None:
            return None
        marks = {f"{c}:{o}": mark for (c, o), mark in view.pop("marks").items()}
        view.pop("mark_list")
        return {**view, "marks": marks}

    # -- the re-execution pool -----------------------------------------------------------------
    run_progress: dict  # (request id, round) -> (cells done, cells in all), while it runs

    def start_reexecutions(self, runner, workers: int, poll: float = 1.0) -> None:
        """Requeue what a stopped service left running, then ``workers`` loops taking the
        oldest queued run each."""
        restarted = self.workflow.requeue_interrupted()
        if restarted:
            log.warning("%d re-execution(s) interrupted by a stop: queued again", restarted)
        self._pool = [asyncio.ensure_future(self._run_loop(runner, poll)) for _ in range(workers)]

    async def _run_loop(self, runner, poll: float) -> None:
        while True:
            try:
                claimed = await IOLoop.current().run_in_executor(None, self.workflow.claim_run)
                if claimed is None:
                    await asyncio.sleep(poll)
                    continue
                await self._run_one(runner, *claimed)
            except Exception as e:  # one bad run never stops the pool
                log.error("re-execution pool: %s", type(e).__name__)
                await asyncio.sleep(poll)

    async def _run_one(self, runner, row, run) -> None:
        from enclave.review_service.reexecution import session_versions

        key = (run.request_id, run.round)
        project = self.workflow.projects.get(row.project)
        nb = await IOLoop.current().run_in_executor(None, self.workflow._frozen, row)
        self.run_progress[key] = (0, 0)
        log.info("re-executing %s round %d", run.request_id, run.round)
        try:
            result = await runner.run(
                nb,
                run_id=f"{run.request_id}-{run.round}",
                extract=project.warehouse_access,
                project=row.project,
                user=row.author,
                progress=lambda done, total: self.run_progress.__setitem__(key, (done, total)),
            )
            second = None
            if result.failure is None and self.workflow.differs_from_submission(row, result):
                # an output unlike the submitted one: was it edited, or does it change from
                # run to run? A second clean run tells
                second = await runner.run(
                    nb,
                    run_id=f"{run.request_id}-{run.round}-again",
                    extract=project.warehouse_access,
                    project=row.project,
                    user=row.author,
                )
            versions = session_versions(runner.settings.session_venv, project.warehouse_access)
            state = await IOLoop.current().run_in_executor(
                None, self.workflow.finish_run, row, run, result, versions, second
            )
        finally:
            self.run_progress.pop(key, None)
        log.info("re-execution of %s round %d: %s", run.request_id, run.round, state)

    async def render_for_review(self, request) -> str:
        """The reviewer's rendering of ``request``'s file: from the cache, else made once in a
        worker thread (a second page asking meanwhile waits for the same one)."""
        key = request.sha256
        pending = self._renderings.get(key)
        if pending is None:
            pending = IOLoop.current().run_in_executor(None, self._render_for_review, request)
            self._renderings[key] = pending
            pending.add_done_callback(lambda _: self._renderings.pop(key, None))
        return await pending

    async def render_ahead(self, request_id: str) -> None:
        """Render a new submission's file before its first reviewer opens it (a 5 MB notebook
        takes nbconvert tens of seconds); a failure here is the page's to report."""
        try:
            await self.render_for_review(self.workflow.data.request(request_id))
        except Exception as e:
            log.warning("rendering %s ahead failed (%s)", request_id, type(e).__name__)

    def _render_for_review(self, request) -> str:
        from enclave.output_review.render import render_html

        store = self.workflow.store
        cached = store.cache_path(f"{request.sha256}.{renderer_version()}.review.html")
        if cached.is_file():
            return cached.read_text()
        html = render_html(self._read_frozen(request), self.gate_report(request))
        with Scratch(cached.parent, "review-html") as scratch:
            scratch.path.write_text(html)
            scratch.replace(cached)
        return html


def log_request(handler) -> None:
    """Access log without query strings: they carry purposes and file names, not for logs."""
    request = handler.request
    log.info(
        "%d %s %s %.1fms",
        handler.get_status(),
        request.method,
        request.path,
        1000 * request.request_time(),
    )


def persistent_secret(store: FrozenStore) -> bytes:
    """The cookie secret survives restarts, so signed-in reviewers stay signed in."""
    path = store.root / "cookie_secret"
    if not path.exists():  # written whole or not at all: an empty secret would sign anything
        with Scratch(store.root / "tmp", "cookie-secret") as scratch:
            scratch.path.write_bytes(secrets.token_bytes(32))
            scratch.replace(path)
    return path.read_bytes()


def sweep_store(workflow) -> None:
    """At start: remove what a killed service left in its store, and record it."""
    from enclave.scratch import describe, record_sweep

    swept = workflow.store.sweep()
    if swept:
        record_sweep(workflow.engine, swept, actor="review-service", operation="service start")
        log.warning("%s; recorded in the audit trail", describe(swept))


def access_requests(workflow, config=None):
    """The data-access requests over ``workflow``'s registry; decisions rebuild the project's
    warehouse access (``WarehouseSettings.url`` of ``config``; no config: nothing to grant)."""
    from enclave.review_service.access import AccessRequests
    from enclave.warehouse.grant import apply_access, catalog

    grant = None
    if config is not None:
        from enclave.warehouse.db import WarehouseSettings

        url = WarehouseSettings(config=config).url

        def grant(project, scopes):
            return apply_access(url, project, scopes)

    return AccessRequests(workflow, catalog(), grant)


def build_workflow(config):
    from enclave.audit import keying
    from enclave.notify import Mail
    from enclave.output_review.gate import Gate
    from enclave.projects import ProjectRegistry
    from enclave.review_service.config import ReviewService
    from enclave.review_service.reexecution import Reexecution
    from enclave.review_service.workflow import ReviewWorkflow
    from enclave.state import EnclaveState, make_engine
    from enclave.warehouse.db import WarehouseSettings
    from enclave.warehouse.query_process import QueryProcess

    settings = ReviewService(config=config)
    mail = Mail(config=config)
    mail.check()

    db_url = EnclaveState(config=config).db_url
    keying.use(config, db_url)
    engine = make_engine(db_url)
    store = FrozenStore(settings.store_dir)
    workflow = ReviewWorkflow(
        engine,
        store,
        settings,
        ProjectRegistry(engine, settings.consortium),
        Gate(config=config),
        statement_log=WarehouseSettings(config=config).audit_log,
        query_log=QueryProcess(config=config).log_file,
        mail=mail,
        reexecute=Reexecution(config=config).enabled,
    )
    return workflow, settings


def deliver_mail(workflow) -> None:
    """Send the outbox from now on: every ``Mail.poll_interval`` seconds, in a worker thread,
    one round at a time (what a round leaves is sent by the next)."""
    from tornado.ioloop import PeriodicCallback

    from enclave.notify import Postman

    mail = workflow.data.mail
    if not mail.enabled:
        return
    postman = Postman(mail, workflow.engine)
    busy = False

    async def round_of_deliveries():
        nonlocal busy
        if busy:
            return
        busy = True
        try:
            await IOLoop.current().run_in_executor(None, postman.deliver_due)
        except Exception as e:  # the database is away: the messages wait in the outbox
            log.error("mail delivery round failed (%s); retried next round", type(e).__name__)
        finally:
            busy = False

    PeriodicCallback(round_of_deliveries, mail.poll_interval * 1000).start()
    log.info("e-mail notifications through %s:%d", mail.smtp_host, mail.port)


def hub_auth(settings) -> HubOAuth:
    """The service's one HubOAuth (its handlers' ``hub_auth``), asking the hub again about a
    token or cookie every ``ReviewService.token_check_age`` seconds, so revocation reaches it."""
    return HubOAuth.instance(cache_max_age=settings.token_check_age)


def main(argv=None) -> None:
    from enclave.config import load_config
    from enclave.errors import EnclaveError
    from enclave.review_service.reexecution import Reexecution, Runner

    logging.basicConfig(level=logging.INFO, format="[review %(levelname)s] %(message)s")
    try:
        config = load_config()
        workflow, settings = build_workflow(config)
    except EnclaveError as e:  # e.g. a state database that needs `enclave upgrade-db`
        log.critical("%s", e)
        raise SystemExit(1) from None
    sweep_store(workflow)
    hub_auth(settings)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{settings.service_name}/")
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    app = ReviewApplication(
        workflow,
        settings,
        prefix,
        persistent_secret(workflow.store),
        site_settings(config),
        access=access_requests(workflow, config),
    )
    if config.JupyterHub.get("ssl_cert"):  # served on HTTPS: its XSRF cookie is Secure too
        app.settings["xsrf_cookie_kwargs"] = {"secure": True}
    app.listen(
        url.port,
        address=url.hostname,
        max_body_size=settings.max_upload_bytes + api.BODY_SLACK,
        xheaders=True,
    )
    log.info("review service on %s (prefix %s)", url.geturl(), prefix)
    loop = IOLoop.current()
    for request_id in workflow.pending_releases():
        loop.add_callback(app.build_release, request_id)
    deliver_mail(workflow)
    reexecution = Reexecution(config=config)
    if reexecution.enabled:
        from enclave.warehouse.query_process import QueryProcess

        query = QueryProcess(config=config)
        if "python" not in config.QueryProcess:  # one the query account can run, as the hub's
            query.python = f"{reexecution.session_venv}/bin/python"
        runner = Runner(reexecution, query)
        loop.add_callback(app.start_reexecutions, runner, reexecution.workers)
    for sig in (signal.SIGINT, signal.SIGTERM):  # the hub stops us with these: exit quietly
        loop.asyncio_loop.add_signal_handler(sig, loop.stop)
    loop.start()
    log.info("review service stopped")
    logging.shutdown()
    # every change was committed in its own transaction: skip the interpreter's teardown of
    # this many modules (1-3 s), so that the hub's shutdown stays short
    os._exit(0)
