"""The hub's home page tells reviewers and stewards how many requests wait for them, and
researchers which of their requests changed since they last looked.

The hub calls ``c.JupyterHub.template_vars`` values that are callables with the current user;
``WaitingCount`` and ``Notices`` answer from the state database (the hub can read it: it owns
it), and the template ``templates/service/hub/home.html`` shows them with links.
"""

import logging

from enclave.review_service.identity import Actor

log = logging.getLogger(__name__)


class HubHomeView:
    """What the review service tells a user on the hub's home page (a template variable)."""

    def __init__(self, db_url: str, steward_prefix: str = "stewards-"):
        self.db_url = db_url
        self.steward_prefix = steward_prefix
        self._workflow = None

    def workflow(self):
        if self._workflow is None:
            from enclave.review_service.config import ReviewService
            from enclave.review_service.workflow import ReviewWorkflow
            from enclave.state import make_engine

            engine = make_engine(self.db_url)
            self._workflow = ReviewWorkflow(engine, None, ReviewService(), None, None)
        return self._workflow

    def actor(self, user) -> Actor:
        from jupyterhub.scopes import get_scopes_for

        return Actor(
            name=user.name,
            scopes=frozenset(s for s in get_scopes_for(user.orm_user) if "!" not in s),
            groups=frozenset(g.name for g in user.groups),
            steward_prefix=self.steward_prefix,
        )


class WaitingCount(HubHomeView):
    def __call__(self, user) -> int | None:
        """Requests waiting for ``user``'s decision; None where there is nothing to show."""
        if user is None:
            return None
        actor = self.actor(user)
        if not (actor.is_reviewer or actor.stewards):
            return None
        try:
            return self.workflow().waiting_count(actor)
        except Exception as e:  # the home page must still load; the queue shows the truth
            log.warning("review waiting count unavailable (%s)", type(e).__name__)
            return None


class Notices(HubHomeView):
    def __call__(self, user) -> list:
        """``user``'s requests changed by someone else since they last opened them."""
        if user is None:
            return []
        actor = self.actor(user)
        if not actor.can_submit:
            return []
        try:
            return self.workflow().notices(actor)
        except Exception as e:  # the home page must still load; "My requests" shows the truth
            log.warning("review notices unavailable (%s)", type(e).__name__)
            return []
