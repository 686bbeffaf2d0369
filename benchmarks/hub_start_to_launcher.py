"""In chromium: clicking Start on the start page until the JupyterLab launcher is visible,
``EnclaveSpawner`` against a stock ``LocalProcessSpawner``, in the same run (goal <= 1.3x).

Two hubs side by side, identical but for the spawner class (as ``hub_spawn_cost.py``); rounds
alternate between them so the machine's load hits both alike. Each round signs in a fresh
browser context, clicks Start and waits for ``.jp-Launcher``, then stops the server. CPU
seconds are those of each hub's process tree (hub, proxy, services, session) during the round.

    .venv/bin/python benchmarks/hub_start_to_launcher.py [--rounds 8]
"""

import argparse
import statistics
import sys
import time

from hub_spawn_cost import STOCK
from hub_support import REPO, enclave, sign_on, summary, tree_cpu
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(REPO))
from tests.support.browser import launch  # noqa: E402


def start_to_launcher(browser, running, researcher) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{running.hub.url}/hub/oauth_login")
        page.fill('input[name="login"]', researcher.name)
        page.fill('input[name="password"]', running.password)
        page.click('button[type="submit"]')
        page.wait_for_selector("#enclave-start")
        start = time.perf_counter()
        page.click("#enclave-start")
        page.wait_for_selector(".jp-Launcher", state="visible", timeout=180_000)
        return time.perf_counter() - start
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with (
        enclave(1) as isolated,
        enclave(1, extra_config=STOCK) as stock,
        sync_playwright() as p,
    ):
        browser = launch(p)
        hubs = {"EnclaveSpawner": isolated, "LocalProcessSpawner": stock}
        researchers = {label: sign_on(running, "r0") for label, running in hubs.items()}
        wall = {label: [] for label in hubs}
        cpu = {label: [] for label in hubs}
        for label, running in hubs.items():  # warm-up: first imports, first page builds
            start_to_launcher(browser, running, researchers[label])
            researchers[label].stop_server()
        for _ in range(args.rounds):
            for label, running in hubs.items():
                before = tree_cpu(running.hub.process.pid)
                wall[label].append(start_to_launcher(browser, running, researchers[label]))
                cpu[label].append(tree_cpu(running.hub.process.pid) - before)
                researchers[label].stop_server()
        browser.close()
        for label in hubs:
            print(
                f"{summary(f'Start -> launcher, {label}', wall[label])}; "
                f"CPU median {statistics.median(cpu[label]):.2f} s"
            )
        ratio = statistics.median(wall["EnclaveSpawner"]) / statistics.median(
            wall["LocalProcessSpawner"]
        )
        print(f"enclave / stock: {ratio:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
