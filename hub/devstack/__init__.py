"""The enclave on one machine, for ``make demo`` and the tests: a loopback OpenID Connect
provider (``oidc.OIDCProvider``, npm ``oidc-provider``) and a real hub with
configurable-http-proxy started from the root ``jupyterhub_config.py`` (``launch.start_hub``).
Not for production: a deployment runs its own identity provider and process supervisor.
"""
