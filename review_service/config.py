"""Settings of the review service: one traitlets class, configured in ``jupyterhub_config.py``."""

from functools import cached_property

from traitlets import Int, Unicode, validate
from traitlets.config import Configurable

from enclave.consortium import Consortium, consortium


class ReviewService(Configurable):
    """Where the review service keeps frozen copies, and the rules it enforces."""

    store_dir = Unicode(
        "/srv/enclave/review",
        help="""Directory for frozen notebook copies and release packages (created 0700).
        Only the service's own account may read it; researchers' sessions never see it.""",
    ).tag(config=True)

    required_reviewer_approvals = Int(
        2,
        help="""How many distinct reviewers (not the requester) must approve a request,
        in addition to one steward of every institution whose data it uses.""",
    ).tag(config=True)

    max_upload_bytes = Int(
        100 * 1024 * 1024,
        help="""Largest notebook accepted for review, in bytes. Larger uploads are refused
        from their Content-Length before any of the body is read.""",
    ).tag(config=True)

    service_name = Unicode(
        "review", help="""The JupyterHub service name (URL prefix ``/services/<name>/``)."""
    ).tag(config=True)

    token_check_age = Int(
        10,
        min=0,
        help="""Seconds the service trusts the hub's answer about a token or cookie before asking
        again (jupyterhub's HubAuth.cache_max_age, 300 s by default): how long a user the hub
        has revoked can still open the service's pages.""",
    ).tag(config=True)

    @validate("required_reviewer_approvals")
    def _at_least_one(self, proposal):
        if proposal.value < 1:
            raise ValueError(
                "ReviewService.required_reviewer_approvals must be at least 1; "
                "nothing leaves without a reviewer."
            )
        return proposal.value

    @validate("max_upload_bytes")
    def _positive(self, proposal):
        if proposal.value < 1024:
            raise ValueError("ReviewService.max_upload_bytes must be at least 1024 bytes.")
        return proposal.value

    @cached_property
    def consortium(self) -> Consortium:
        """The members, their stewards' groups and names (``Consortium``, same config)."""
        return consortium(self.config)

    @property
    def institutions(self) -> dict[str, str]:
        """Member code -> name: an output table showing either needs that member's stewards."""
        return self.consortium.names()
