"""The review service asks the hub again about a token or cookie within
``ReviewService.token_check_age`` seconds, so a user the hub revoked is refused soon."""

import pytest
from jupyterhub.services.auth import HubOAuth
from traitlets.config import Config

from enclave.review_service.app import hub_auth
from enclave.review_service.config import ReviewService
from enclave.review_service.handlers import BaseHandler


@pytest.fixture(autouse=True)
def fresh_hub_auth():
    HubOAuth.clear_instance()
    yield
    HubOAuth.clear_instance()


def test_the_handlers_hub_auth_asks_again_after_the_configured_age():
    config = Config()
    config.ReviewService.token_check_age = 7
    auth = hub_auth(ReviewService(config=config))
    assert auth.cache_max_age == 7
    assert BaseHandler.hub_auth_class.instance() is auth  # what every page and API call uses


def test_by_default_far_sooner_than_jupyterhubs_five_minutes():
    assert HubOAuth().cache_max_age == 300
    assert hub_auth(ReviewService()).cache_max_age == 10
