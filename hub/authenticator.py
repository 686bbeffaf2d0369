"""Sign-on through the consortium's OpenID Connect provider; provider groups become enclave roles.

A thin subclass of oauthenticator's ``GenericOAuthenticator``: the provider's ``groups`` claim is
synced into JupyterHub groups (``manage_groups``), and only the consortium's role groups
(``Consortium``, enclave/consortium.py; these are the defaults) let anyone in:

- ``researchers`` — may start data sessions for their approved projects;
- ``reviewers`` — review outputs (the review service), no data sessions;
- ``stewards-<institution>`` (or the group its entry names) — the data steward of one member
  institution, no data sessions;
- ``admins`` — hub administrators, no data sessions unless also ``researchers``.

Everybody else is refused at login: nobody gets in by omission.

Access ends when the provider says so, not only at the next login. The provider's tokens are
kept in JupyterHub's auth state, encrypted with a key only the hub reads
(``auth_state_key_file``). At most every ``Authenticator.auth_refresh_age`` seconds (300) the
hub asks the provider again (userinfo with the access token, else the refresh token), on the
user's next request and, for a running session, from the spawner's ``poll()``. A user the
provider no longer vouches for (tokens refused) or who is in no enclave group any more is
revoked (``revoke``): every hub API and OAuth token deleted, the hub cookie invalidated, the
auth state dropped, the servers stopped, and an ``access.revoke`` audit event written.

Nobody enters another user's session server by default. JupyterHub's own ``admin`` role (the
admin flag) can do anything and cannot be narrowed, so nobody gets it from the provider: the
``admins`` group holds the ``enclave-admin`` role instead (``admin_role``), which has neither
``access:servers`` nor what would give it (``tokens`` for other users, ``shares``,
``admin:services``, auth state). A deployment that grants such access anyway gets a
``session.enter`` audit event each time the hub lets someone into a server not theirs
(``EnclaveOAuthAuthorize``); if the event cannot be written, the entry is refused.
"""

import asyncio
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from jupyterhub.apihandlers.auth import OAuthAuthorizeHandler
from jupyterhub.utils import new_token
from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from traitlets import Unicode, default

from enclave.errors import EnclaveError


def check_transport_at_start(hub, log) -> None:
    """Stop the hub at start, in one line, on plain HTTP beyond loopback or a private file
    others could read (``transport.py``); on TLS, make its cookies Secure and send HSTS."""
    from traitlets import TraitError

    from enclave.errors import EnclaveError
    from enclave.hub.transport import (
        check_private_files,
        check_transport,
        secure_tornado_settings,
    )

    try:
        check_transport(hub)
        check_private_files(hub.config)  # reads ReviewService's settings: their checks run
    except EnclaveError as e:
        log.critical("%s", e)
        raise SystemExit(1) from None
    except (TraitError, ValueError) as e:  # a setting's own check (as check_at_start says it)
        log.critical("%s", str(e).splitlines()[0])
        raise SystemExit(1) from None
    secure_tornado_settings(hub)


def check_state_at_start(config, log) -> None:
    """Stop the hub at start, in one line, on a state database it must not use (one that needs
    ``enclave upgrade-db``), as JupyterHub does with its own (a new one is created here), and
    on mail settings that would send nothing or send in the clear (``Mail.check``)."""
    from enclave.hub.context import enclave_context
    from enclave.notify import Mail

    try:
        enclave_context(config)
        Mail(config=config).check()  # the review service sends it: refused here, not in a loop
    except EnclaveError as e:  # e.g. a state database that needs `enclave upgrade-db`
        log.critical("%s", e)
        raise SystemExit(1) from None


def settings_checked_at_start(hub) -> list[type]:
    """The enclave classes whose settings the hub checks before it starts anything: its own
    (spawner, sign-on, services' supervision, pages), the consortium, the state, the warehouse,
    the review service's and the gate's (with its checks). A session's server and report runs
    check theirs when they start."""
    from enclave.audit.keying import AuditTrail
    from enclave.consortium import Consortium
    from enclave.files import FileLimits
    from enclave.hub.agreement import DataUseAgreement
    from enclave.hub.culler import IdleCuller
    from enclave.hub.services import ManagedServices
    from enclave.hub.start_page import EnclavePages
    from enclave.output_review.gate import BUILT_IN_CHECKS, Gate
    from enclave.output_review.policy import DisclosurePolicy
    from enclave.review_service.config import ReviewService
    from enclave.state import EnclaveState
    from enclave.warehouse.db import WarehouseSettings
    from enclave.warehouse.query_process import QueryProcess

    return [
        hub.spawner_class,
        EnclaveAuthenticator,
        IdleCuller,
        ManagedServices,
        EnclavePages,
        DataUseAgreement,
        Consortium,
        EnclaveState,
        AuditTrail,
        WarehouseSettings,
        QueryProcess,
        FileLimits,
        ReviewService,
        Gate,
        DisclosurePolicy,
        *BUILT_IN_CHECKS,
    ]


def _hub_as_services_see_it(hub) -> dict:
    """What the services read of the hub's own settings: where people reach it (the links in
    mail) and whether it serves TLS (their cookies are Secure then); no secret, no path to one."""
    return {"bind_url": hub.bind_url, "public_url": hub.public_url, "ssl_cert": hub.ssl_cert}


def check_at_start(hub, log) -> None:
    """Stop the hub at start, in one line, on settings it must not run with: an enclave setting
    that fails its checks (a typo, a bad value, a consortium that does not hold together), or a
    setting its services or sessions could not be given; then settle the review and admin
    roles on the final settings, write those its services read (``$ENCLAVE_SETTINGS_FILE``)
    and open the state (``check_state_at_start``)."""
    from traitlets import TraitError

    from enclave.config import SETTINGS_FILE, check_section, settings_of, write_settings
    from enclave.consortium import consortium
    from enclave.output_review.gate import Gate
    from enclave.review_service.config import ReviewService
    from enclave.review_service.hub_config import settle_at_start
    from enclave.session_env import session_settings

    try:
        for cls in settings_checked_at_start(hub):
            check_section(cls, hub.config)
        consortium(hub.config)
        try:
            ReviewService(config=hub.config)
        except (TraitError, ValueError) as e:  # its own checks raise ValueError
            raise EnclaveError(str(e).splitlines()[0]) from None
        members = consortium(hub.config)
        settle_at_start(hub)
        for role in hub.load_roles:  # in place: JupyterHub has copied the list, not the roles
            if role.get("name") == ADMIN_ROLE:
                role["groups"] = [members.admins_group]
        Gate(config=hub.config)
        session_settings(hub.config)
        settings = {**settings_of(hub.config), "JupyterHub": _hub_as_services_see_it(hub)}
        for service in hub.services:
            path = (service.get("environment") or {}).get(SETTINGS_FILE)
            if path:
                write_settings(Path(path), settings)
    except EnclaveError as e:
        log.critical("%s", e)
        raise SystemExit(1) from None
    check_state_at_start(hub.config, log)


# What administrators need (the admin pages: users, their servers started and stopped, groups,
# services, the hub): JupyterHub's admin role without entering anyone's server, directly
# (access:servers) or by a detour (tokens minted for the user, shares, a service given scopes,
# the user's provider tokens in auth state, server state).
ADMIN_SCOPES = [
    "admin-ui",
    "users",
    "delete:users",
    "read:roles",
    "servers",
    "read:tokens",
    "admin:groups",
    "list:services",
    "read:services",
    "access:services",
    "read:hub",
    "proxy",
    "shutdown",
    "read:metrics",
]


ADMIN_ROLE = "enclave-admin"


def admin_role(*, enter_sessions: bool = False) -> dict:
    """The ``JupyterHub.load_roles`` entry of the administrators' group
    (``Consortium.admins_group``, settled at start); ``enter_sessions=True`` lets
    administrators open researchers' servers (each entry audited)."""
    scopes = [*ADMIN_SCOPES, *(["access:servers"] if enter_sessions else [])]
    return {
        "name": ADMIN_ROLE,
        "description": "Enclave administrators: people, projects and servers, not sessions",
        "groups": ["admins"],
        "scopes": scopes,
    }


def is_admin(user, consortium=None) -> bool:
    """An enclave administrator: in the consortium's administrators' group (never
    JupyterHub's admin flag, which nobody gets from the provider)."""
    from enclave.consortium import demo

    group = (consortium or demo()).admins_group
    return user is not None and group in {g.name for g in user.groups}


@dataclass(frozen=True)
class Confirmation:
    """What the provider said of a user: their fresh ``auth_model`` (``{}``: nothing to ask it,
    auth state being off), or why their access is revoked; or, when it could not be asked,
    whether the user is still within the grace of twice the refresh age since it last did."""

    auth_model: dict | None = None
    revoked: str | None = None
    within_grace: bool = False


class EnclaveAuthenticator(GenericOAuthenticator):
    """``GenericOAuthenticator`` with the enclave's group-to-role rules and OIDC defaults."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from jupyterhub.app import JupyterHub

        if isinstance(self.parent, JupyterHub):  # the hub is starting: check, open the state
            check_transport_at_start(self.parent, self.log)
            check_at_start(self.parent, self.log)
            self._use_auth_state_key()

    @cached_property
    def consortium(self):
        from enclave.consortium import consortium

        return consortium(self.config)

    auth_state_key_file = Unicode(
        "",
        help="""File holding the key that encrypts users' auth state (their provider tokens)
        in the hub's database: 32 random bytes, mode 0600, made when missing. Only the hub
        reads it; no session or service gets it. Not used when ``CryptKeeper.keys`` or
        ``$JUPYTERHUB_CRYPT_KEY`` give keys. Losing it only makes everyone sign on again.""",
    ).tag(config=True)

    def _use_auth_state_key(self) -> None:
        from jupyterhub.crypto import CryptKeeper

        from enclave.audit.keying import KEY_BYTES, keygen

        keeper = CryptKeeper.instance()
        if keeper.keys or not self.auth_state_key_file:
            return
        path = keygen(Path(self.auth_state_key_file))
        key = path.read_bytes()
        if len(key) != KEY_BYTES or path.stat().st_mode & 0o077:
            self.log.critical(
                "Authenticator.auth_state_key_file %s: must be %d bytes, readable by its owner "
                "only (remove it: a new one is made, and everyone signs on again).",
                path,
                KEY_BYTES,
            )
            raise SystemExit(1)
        keeper.keys = [key]

    @default("enable_auth_state")
    def _enable_auth_state_default(self):
        return True

    @default("auth_refresh_strict")
    def _auth_refresh_strict_default(self):
        # stale auth is refused on API requests too, not only on cookie-authenticated pages
        return True

    oidc_issuer = Unicode(
        help="""Issuer URL of the OpenID Connect provider (no trailing slash), e.g.
        ``https://login.consortium.example``. The authorize, token and userinfo URLs default
        to the provider's standard paths under it (``/auth``, ``/token``, ``/me`` for
        ``oidc-provider``); set them explicitly for other providers.
        Defaults to ``$ENCLAVE_OIDC_ISSUER``.""",
    ).tag(config=True)

    @default("oidc_issuer")
    def _issuer_from_env(self):
        return os.environ.get("ENCLAVE_OIDC_ISSUER", "").rstrip("/")

    @default("authorize_url")
    def _authorize_url_default(self):
        return os.environ.get("OAUTH2_AUTHORIZE_URL") or f"{self.oidc_issuer}/auth"

    @default("token_url")
    def _token_url_default(self):
        return os.environ.get("OAUTH2_TOKEN_URL") or f"{self.oidc_issuer}/token"

    @default("userdata_url")
    def _userdata_url_default(self):
        return os.environ.get("OAUTH2_USERDATA_URL") or f"{self.oidc_issuer}/me"

    @default("login_service")
    def _login_service_default(self):
        return "consortium sign-on"

    @default("scope")
    def _scope_default(self):
        return ["openid", "profile", "email", "groups"]

    @default("username_claim")
    def _username_claim_default(self):
        return "preferred_username"

    @default("manage_groups")
    def _manage_groups_default(self):
        return True

    @default("auth_state_groups_key")
    def _groups_key_default(self):
        return "oauth_user.groups"

    async def update_auth_model(self, auth_model):
        """The provider's groups; JupyterHub's admin flag only for ``admin_users`` named in the
        configuration (an ``admins`` member gets the ``enclave-admin`` role instead)."""
        auth_model = await super().update_auth_model(auth_model)
        auth_model["admin"] = auth_model["name"] in self.admin_users
        return auth_model

    @default("basic_auth")
    def _basic_auth_default(self):
        # the provider's client is registered with client_secret_basic
        return True

    def remember_signon(self, username, auth_model) -> None:
        """Keep the provider's address and groups for e-mail notifications (enclave.notify):
        a reviewer's, a steward's, a researcher's, as of their last sign-on. An address the
        provider says is unverified is not kept."""
        from enclave.hub.context import enclave_context
        from enclave.notify import remember_user

        claims = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        email = claims.get("email") if claims.get("email_verified") is not False else None
        engine = enclave_context(self.config).projects.engine
        remember_user(engine, username, email, auth_model.get("groups") or ())

    async def check_allowed(self, username, auth_model):
        """Allow exactly the members of an enclave role group; refuse everyone else."""
        if auth_model is None:
            return False
        roles = self.consortium.roles(auth_model.get("groups"))
        if roles:
            self.remember_signon(username, auth_model)
            return True
        self.log.warning("Refusing %s: no enclave role among the provider's groups", username)
        return False

    # -- revocation -------------------------------------------------------------------------------
    def get_handlers(self, app):
        return [(r"/api/oauth2/authorize", EnclaveOAuthAuthorize), *super().get_handlers(app)]

    async def confirm(self, user, handler=None) -> Confirmation:
        """Ask the provider about ``user`` now; revoke their access if it no longer vouches
        for them or they are in no enclave group."""
        now = time.monotonic()
        try:
            refreshed = await super().refresh_user(user, handler)
        except Exception as e:  # the provider could not be asked: no verdict, nothing revoked
            self.log.warning(
                "Cannot confirm %s with the sign-on provider: %s", user.name, type(e).__name__
            )
            # the grace runs from the last confirmation (the sign-on, or a refresh), or from
            # this failure when this hub process has seen none
            since = getattr(user, "_enclave_confirmed", None) or user._auth_refreshed
            if since is None:
                since = user._enclave_confirmed = now
            return Confirmation(within_grace=now - since < 2 * self.auth_refresh_age)
        if refreshed is True:  # auth state disabled: nothing to ask the provider with
            return Confirmation(auth_model={})
        if not refreshed:
            reason = "the sign-on provider no longer accepts your sign-on"
        elif not self.consortium.roles(refreshed.get("groups")):
            reason = "you are no longer in any enclave group at the sign-on provider"
        else:
            user._enclave_confirmed = now
            return Confirmation(auth_model=refreshed)
        await self.revoke(user, reason, groups=(refreshed or {}).get("groups") or [])
        return Confirmation(revoked=reason)

    async def refresh_user(self, user, handler=None, **kwargs):
        """The fresh auth model, True (nothing to refresh, or the provider unreachable within
        the grace: asked again after ``auth_refresh_age``), or False (sign on again): see
        ``confirm``. The servers of a revoked user are ended through their spawners' ``poll()``."""
        confirmation = await self.confirm(user, handler)
        if confirmation.revoked:
            for spawner in list(user.spawners.values()):
                if spawner.active and not spawner.pending:
                    asyncio.ensure_future(spawner.poll_and_notify())
            return False
        if confirmation.auth_model is not None:
            return confirmation.auth_model or True
        return confirmation.within_grace

    async def revoke(self, user, reason: str, *, groups=()) -> None:
        """Delete every token of ``user``, invalidate their hub cookies, drop their auth state
        and provider groups; recorded as ``access.revoke`` when anything was still held."""
        from enclave.audit.actions import AuditAction
        from enclave.hub.context import enclave_context

        orm_user = user.orm_user
        tokens = list(orm_user.api_tokens)
        held = bool(tokens) or await user.get_auth_state() is not None
        for token in tokens:
            user.db.delete(token)
        orm_user.cookie_id = new_token()  # every hub cookie of theirs names the old one
        user.db.commit()
        await user.save_auth_state(None)
        if self.manage_groups:
            user.sync_groups(list(groups))
        user._auth_refreshed = user._enclave_confirmed = None
        if held:
            self.log.warning("Revoked %s's access: %s", user.name, reason)
            enclave_context(self.config).audit.append(
                actor=user.name,
                action=AuditAction.ACCESS_REVOKE,
                details={"reason": reason, "tokens": len(tokens)},
            )


class EnclaveOAuthAuthorize(OAuthAuthorizeHandler):
    """JupyterHub's OAuth authorization, recording each entry into a server not the user's
    own (``session.enter``) before it is granted."""

    def _complete_login(self, uri, headers, scopes, credentials):  # no confirmation asked
        self._record_entry(credentials["client_id"])
        return super()._complete_login(uri, headers, scopes, credentials)

    @web.authenticated
    def post(self):  # the confirmation form
        self._record_entry(self.get_argument("client_id", ""))
        return super().post()

    def _record_entry(self, client_id: str) -> None:
        client = self.oauth_provider.fetch_by_client_id(client_id) if client_id else None
        spawner = getattr(client, "spawner", None)
        if spawner is None or spawner.user.name == self.current_user.name:
            return
        from enclave.audit.actions import AuditAction
        from enclave.hub.context import enclave_context

        try:
            enclave_context(self.settings["config"]).audit.append(
                actor=self.current_user.name,
                action=AuditAction.SESSION_ENTER,
                details={"owner": spawner.user.name, "server": spawner.name},
            )
        except Exception as e:  # no record, no entry
            self.log.error("Cannot record an entry into a session: %s", type(e).__name__)
            raise web.HTTPError(403, "Entry refused: it could not be recorded.") from None
