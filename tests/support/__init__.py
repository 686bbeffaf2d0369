"""Reusable pieces for tests that need the real enclave hub (shared with the review service).

- ``tests.support.oidc.OIDCProvider``: the loopback OpenID Connect provider (npm ``oidc-provider``,
  ``tests/support/oidc/provider.mjs``) with accounts, passwords and a ``groups`` claim.
- ``tests.support.hub.start_hub``: a real JupyterHub + configurable-http-proxy on free ports,
  configured by the root ``jupyterhub_config.py`` plus your overrides.
- ``tests.support.login``: the non-browser login through the provider, and hub API tokens.
- ``tests.support.unix_users``: unique researcher accounts, removed afterwards.

Typical module-scoped use::

    with OIDCProvider(accounts={"alice": {"password": "pw", "groups": ["researchers"]}}) as idp:
        hub = start_hub(tmp_dir, idp)
        session = login(hub.url, "alice", "pw")
        ...
        hub.stop()
"""
