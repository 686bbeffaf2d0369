"""Sign-on through the consortium's OpenID Connect provider; provider groups become enclave roles.

A thin subclass of oauthenticator's ``GenericOAuthenticator``: the provider's ``groups`` claim is
synced into JupyterHub groups (``manage_groups``), and only these groups let anyone in:

- ``researchers`` — may start data sessions for their approved projects;
- ``reviewers`` — review outputs (the review service), no data sessions;
- ``stewards-<institution>`` — the data steward of one member institution, no data sessions;
- ``admins`` — hub administrators, no data sessions unless also ``researchers``.

Everybody else is refused at login: nobody gets in by omission.
"""

import os

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Unicode, default

from enclave.errors import EnclaveError

RESEARCHERS = "researchers"
REVIEWERS = "reviewers"
ADMINS = "admins"
STEWARDS_PREFIX = "stewards-"


def steward_institutions(groups) -> set[str]:
    """The institutions whose steward a member of ``groups`` is."""
    from enclave.projects import known_institutions

    institutions = known_institutions()
    return {
        g.removeprefix(STEWARDS_PREFIX)
        for g in groups
        if g.startswith(STEWARDS_PREFIX) and g.removeprefix(STEWARDS_PREFIX) in institutions
    }


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


def enclave_roles(groups) -> set[str]:
    """The enclave roles carried by these provider groups (empty: refuse)."""
    groups = set(groups or ())
    roles = groups & {RESEARCHERS, REVIEWERS, ADMINS}
    if steward_institutions(groups):
        roles.add("stewards")
    return roles


class EnclaveAuthenticator(GenericOAuthenticator):
    """``GenericOAuthenticator`` with the enclave's group-to-role rules and OIDC defaults."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from jupyterhub.app import JupyterHub

        if isinstance(self.parent, JupyterHub):  # the hub is starting: open the state now
            check_state_at_start(self.config, self.log)

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

    @default("admin_groups")
    def _admin_groups_default(self):
        return {ADMINS}

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
        roles = enclave_roles(auth_model.get("groups"))
        if roles:
            self.remember_signon(username, auth_model)
            return True
        self.log.warning("Refusing %s: no enclave role among the provider's groups", username)
        return False
