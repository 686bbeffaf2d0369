"""Print, as JSON, every URL pattern the session server routes (run by the session venv's python
with the running session server's own environment and arguments; see test_session_handlers.py).

The server is built as ``jupyterhub-singleuser`` builds it (the hub's single-user extension
starting the Jupyter server with every enabled extension) but never started."""

import json
import sys

from jupyterhub.singleuser.extension import JupyterHubSingleUser


def patterns(router) -> list[str]:
    found = []
    for rule in router.rules:
        if hasattr(rule.target, "rules"):
            found += patterns(rule.target)
        else:
            found.append(rule.matcher.regex.pattern)
    return found


# bound (never served) on loopback: the session's own address is inside its sandbox
ASIDE = ["--ServerApp.ip=127.0.0.1", "--ServerApp.port=0"]
server = JupyterHubSingleUser.initialize_server(argv=sys.argv[1:] + ASIDE)
print(json.dumps(patterns(server.web_app.default_router)))
