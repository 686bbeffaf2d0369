"""Test-only pieces; the whole running enclave is dev tooling in ``devstack/`` (see its docstring).

- ``browser.launch``: Debian's chromium for Playwright.

Typical module-scoped use::

    @pytest.fixture(scope="module")
    def enclave():
        people = {"alice": ["researchers"], "rita": ["reviewers"]}
        projects = {"study": {"members": ["alice"], "institutions": ["CC-101"]}}
        with running_enclave(None, people, projects) as running:
            yield running

    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    kernel = alice.start_session("study")
"""
