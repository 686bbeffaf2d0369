"""Non-browser login through the real OIDC provider, and hub API tokens for a logged-in user."""

import re
from urllib.parse import urljoin

import requests

FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


class LoginFailed(AssertionError):
    pass


def login(hub_url: str, username: str, password: str) -> requests.Session:
    """Log in like a browser: hub -> provider login form -> POST -> back to the hub.

    Returns a ``requests.Session`` carrying the hub's cookies. ``session.login_response`` is
    the final response (e.g. a 403 page for a refused user); raises ``LoginFailed`` if the
    provider rejected the password.
    """
    session = requests.Session()
    form = session.get(f"{hub_url}/hub/oauth_login", timeout=30)
    form.raise_for_status()
    action = FORM_ACTION.search(form.text)
    if action is None:
        raise LoginFailed(f"no login form at {form.url}")
    response = session.post(
        urljoin(form.url, action.group(1)),
        data={"login": username, "password": password},
        timeout=60,
    )
    if response.url.startswith(form.url.split("/interaction")[0] + "/interaction"):
        raise LoginFailed(f"the provider refused {username!r} (HTTP {response.status_code})")
    session.login_response = response
    return session


def xsrf_headers(session: requests.Session) -> dict:
    """Headers that let a cookie-authenticated POST through the hub's XSRF check."""
    token = session.cookies.get("_xsrf", path="/hub/")
    if token is None:
        token = next(c.value for c in session.cookies if c.name == "_xsrf")
    return {"X-XSRFToken": token, "Sec-Fetch-Mode": "same-origin"}


def api_token(session: requests.Session, hub_url: str, username: str, **token_model) -> str:
    """A hub API token for the logged-in ``username`` (``POST /hub/api/users/NAME/tokens``)."""
    response = session.post(
        f"{hub_url}/hub/api/users/{username}/tokens",
        json={"note": "test", **token_model},
        headers=xsrf_headers(session),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]
