"""Dev tooling, not installed: the whole enclave on one machine, for ``make demo``, the tests and
the benchmarks. Not for production: a deployment runs its own identity provider and process
supervisor.

- ``oidc.OIDCProvider``: the loopback OpenID Connect provider (npm ``oidc-provider``,
  ``oidc/provider.mjs``) with accounts, passwords and a ``groups`` claim.
- ``launch.start_hub``: a real JupyterHub + configurable-http-proxy on free ports, configured by
  the root ``jupyterhub_config.py`` plus your overrides.
- ``enclave.running_enclave``: all of it at once — synthetic warehouse (SQLite, or PostgreSQL),
  projects, Unix accounts, provider, hub (with the deployment's services).
- ``login.login`` / ``login.api_token``: the non-browser login through the provider; API tokens.
- ``researcher.Researcher``: a signed-on user — agreement, spawn, wait, kernel.
- ``kernel.Kernel`` / ``kernel.run``: code in a real kernel over REST and the websocket.
- ``unix_users.unix_users``: unique researcher accounts, removed afterwards.
- ``demo`` (``make demo``) and ``warehouse_demo.prepare_warehouse``: the demo on synthetic data.

Typical module-scoped use in a test::

    @pytest.fixture(scope="module")
    def enclave():
        people = {"alice": ["researchers"], "rita": ["reviewers"]}
        projects = {"study": {"members": ["alice"], "institutions": ["CC-101"]}}
        with running_enclave(None, people, projects) as running:
            yield running

    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    kernel = alice.start_session("study")
"""
