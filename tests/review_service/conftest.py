"""Fixtures for the review service: a state database, the project registry, the real gate."""

from datetime import UTC, datetime, timedelta

import pytest
import review_notebooks as notebooks
import sqlalchemy as sa
from traitlets.config import Config

from enclave.output_review.gate import Gate
from enclave.projects import ProjectRegistry
from enclave.review_service.config import ReviewService
from enclave.review_service.store import FrozenStore
from enclave.review_service.workflow import ReviewWorkflow, Submission
from enclave.state import make_engine

PROJECT = "demo"


@pytest.fixture(scope="module")
def enclave(tmp_path_factory, request):
    """A whole running enclave (provider, hub, proxy, review service) for one test module."""
    from review_hub import PEOPLE, PROJECTS, SERVICE_CONFIG

    from devstack.enclave import running_enclave

    base = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    with running_enclave(base, PEOPLE, PROJECTS, extra_config=SERVICE_CONFIG) as running:
        yield running


def create_project(engine, name=PROJECT, members=("rita",), institutions=("CC-101", "UNI-201")):
    registry = ProjectRegistry(engine)
    expires = (datetime.now(UTC) + timedelta(days=30)).date()
    registry.create(name, purpose="completion study", expires=expires, actor="ada")
    for member in members:
        registry.add_member(name, member, actor="ada")
    for institution in institutions:
        registry.approve_override(
            name,
            institution,
            actor="ada",
            reason="recorded in a test",
            grant=lambda p, i: f"/extracts/{p}",
        )
    return registry


def make_workflow(url, store_dir, **settings):
    engine = make_engine(url)
    config = Config()
    for key, value in settings.items():
        setattr(config.ReviewService, key, value)
    return ReviewWorkflow(
        engine,
        FrozenStore(store_dir),
        ReviewService(config=config),
        ProjectRegistry(engine),
        Gate(config=config),
    )


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


@pytest.fixture
def workflows():
    """``workflows(url, store_dir, **settings)``; engines are disposed after the test."""
    made = []

    def make(url, store_dir, **settings):
        made.append(make_workflow(url, store_dir, **settings))
        return made[-1]

    yield make
    for wf in made:
        wf.engine.dispose()


@pytest.fixture
def workflow(workflows, sqlite_url, tmp_path):
    wf = workflows(sqlite_url, tmp_path / "store")
    create_project(wf.engine)
    return wf


def submit(wf, actor, nb=None, *, notebook="analysis.ipynb", **fields):
    upload = wf.store.open_upload()
    upload.write(notebooks.to_bytes(nb if nb is not None else notebooks.passing()))
    fields.setdefault("purpose", "Completion rates by term for the board report.")
    fields.setdefault("release_use", "internal")
    fields.setdefault("recipients", ("CC-101",))
    return wf.submit(actor, upload, Submission(notebook=notebook, project=PROJECT, **fields))


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
