"""Settings of the review service: one traitlets class, configured in ``jupyterhub_config.py``."""

import re

from traitlets import Dict, Int, Unicode, default, validate
from traitlets.config import Configurable


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

    institutions = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Member institutions: code -> display name (name may be empty). An output
        table that shows a code or a name needs that institution's stewards.""",
    ).tag(config=True)

    steward_group_prefix = Unicode(
        "stewards-",
        help="""Hub groups named PREFIX + institution code hold that institution's stewards,
        e.g. ``stewards-CC-101``.""",
    ).tag(config=True)

    service_name = Unicode(
        "review", help="""The JupyterHub service name (URL prefix ``/services/<name>/``)."""
    ).tag(config=True)

    @default("institutions")
    def _warehouse_institutions(self):
        from enclave.consortium import INSTITUTIONS

        return {code: name for code, (name, _sector) in INSTITUTIONS.items()}

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

    @validate("institutions")
    def _codes(self, proposal):
        for code in proposal.value:
            if not re.fullmatch(r"[A-Z0-9]+-[0-9]{3}", code):
                raise ValueError(
                    f"ReviewService.institutions: {code!r} is not an institution code like CC-101."
                )
        if not proposal.value:
            raise ValueError("ReviewService.institutions must list the member institutions.")
        return proposal.value
