"""Who may do what to a request, in one place (OpenSAFELY airlock's pattern).

Each rule comes as a pair: ``check_user_can_x`` raises ``PermissionDenied`` with a sentence
for the user; ``user_can_x`` returns a bool for templates. Everything not allowed here is
refused: the default is no.
"""

import json

from enclave.review_service.errors import PermissionDenied
from enclave.review_service.identity import Actor
from enclave.review_service.states import OPEN_FOR_DECISION, Status


def _required(request) -> set[str]:
    return set(json.loads(request.institutions))


def involved_stewardships(actor: Actor, request) -> set[str]:
    """The request's institutions this user signs off for."""
    return set(actor.stewards) & _required(request)


def check_user_can_submit(actor: Actor) -> None:
    if not actor.can_submit:
        raise PermissionDenied(f"{actor.name} may not submit outputs for review.")


def check_user_can_view(actor: Actor, request) -> None:
    if actor.is_admin or actor.is_reviewer or actor.name == request.author:
        return
    if involved_stewardships(actor, request):
        return
    raise PermissionDenied(f"{actor.name} may not see request {request.id}.")


def check_user_can_decide(actor: Actor, request) -> None:
    # the one place self-review is refused
    if actor.name == request.author:
        raise PermissionDenied("Nobody reviews their own request.")
    if not actor.is_reviewer and not involved_stewardships(actor, request):
        if actor.stewards:
            raise PermissionDenied(
                f"{actor.name} is a steward of {', '.join(sorted(actor.stewards))}; request "
                f"{request.id} uses data of {', '.join(sorted(_required(request)))} only."
            )
        raise PermissionDenied(f"{actor.name} is neither a reviewer nor a steward here.")
    if Status(request.status) not in OPEN_FOR_DECISION:
        raise PermissionDenied(
            f"request {request.id} is {request.status}; it is not open for decisions."
        )


def check_user_can_comment(actor: Actor, request) -> None:
    check_user_can_view(actor, request)


def check_user_can_change_own(actor: Actor, request) -> None:
    """Resubmit or withdraw: only the requester."""
    if actor.name != request.author:
        raise PermissionDenied(f"only {request.author} can resubmit or withdraw {request.id}.")


def check_user_can_download(actor: Actor, request) -> None:
    if actor.name != request.author and not actor.is_admin:
        raise PermissionDenied(
            f"only the requester (or an admin) can download the release of {request.id}."
        )
    if request.status != Status.RELEASED:
        raise PermissionDenied(f"request {request.id} is {request.status}, not released.")


def check_user_can_read_comment(actor: Actor, request, comment) -> None:
    if comment.visibility == "all":
        return check_user_can_view(actor, request)
    # internal notes between reviewers and stewards: never for the requester
    if actor.name == request.author or not (
        actor.is_admin or actor.is_reviewer or involved_stewardships(actor, request)
    ):
        raise PermissionDenied("this note is for reviewers and stewards only.")


def _as_bool(check):
    def user_can(*args) -> bool:
        try:
            check(*args)
        except PermissionDenied:
            return False
        return True

    user_can.__name__ = check.__name__.replace("check_user_can", "user_can")
    user_can.__doc__ = f"True where ``{check.__name__}`` would not raise."
    return user_can


user_can_submit = _as_bool(check_user_can_submit)
user_can_view = _as_bool(check_user_can_view)
user_can_decide = _as_bool(check_user_can_decide)
user_can_comment = _as_bool(check_user_can_comment)
user_can_change_own = _as_bool(check_user_can_change_own)
user_can_download = _as_bool(check_user_can_download)
user_can_read_comment = _as_bool(check_user_can_read_comment)
