"""The hub's home page tells reviewers and stewards how many requests wait for them, and
researchers which of their requests changed since they last looked.

The hub calls ``c.JupyterHub.template_vars`` values that are callables with the current user;
``WaitingCount`` and ``Notices`` answer from the state database (the hub can read it: it owns
it), and the template ``templates/service/hub/home.html`` shows them with links.
"""

import logging
from functools import cached_property

from enclave.review_service.identity import Actor

log = logging.getLogger(__name__)


class HubHomeView:
    """What the review service tells a user on the hub's home page (a template variable)."""

    def __init__(self, config):
        # the hub's config as jupyterhub_config.py builds it: read at the first page, when the
        # whole file has run (settings made after configure_review() count too)
        self.config = config
        self._workflow = None

    @cached_property
    def steward_groups(self) -> dict[str, str]:
        from enclave.consortium import consortium

        return consortium(self.config).steward_groups()

    def workflow(self):
        if self._workflow is None:
            from enclave.review_service.config import ReviewService
            from enclave.review_service.workflow import ReviewWorkflow
            from enclave.state import EnclaveState, make_engine

            engine = make_engine(EnclaveState(config=self.config).db_url)
            settings = ReviewService(config=self.config)
            self._workflow = ReviewWorkflow(engine, None, settings, None, None)
        return self._workflow

    def actor(self, user) -> Actor:
        from jupyterhub.scopes import get_scopes_for

        return Actor(
            name=user.name,
            scopes=frozenset(s for s in get_scopes_for(user.orm_user) if "!" not in s),
            groups=frozenset(g.name for g in user.groups),
            steward_groups=self.steward_groups,
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
