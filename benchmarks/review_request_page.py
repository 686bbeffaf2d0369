"""A request page with a 5 MB notebook: the service's time and the browser's time to first paint.

One request whose notebook is about 5 MB of what researchers submit (pandas tables as HTML
with the Enclave kernel's structured data, text outputs, markdown), opened with the service's
own workflow on the state database the running service reads. Then, through the hub's proxy:

- server: the request page (HTML) and the reviewer's rendering of the notebook (the frame's
  document; the first one renders it with nbconvert, later ones come from the cache), each
  timed over HTTP with the service's CPU seconds beside;
- browser: chromium signed in as the reviewer opens the request page; first contentful paint
  of the page and of the notebook frame (the Paint Timing API, from navigation start), and
  until the frame's last output is in the DOM. The first browser load is the first rendering.

    .venv/bin/python benchmarks/review_request_page.py [--megabytes 5] [--loads 5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from review_queue import service_cpu_seconds
from review_setup import REPO, review_enclave
from traitlets.config import Config

sys.path.insert(0, str(REPO))
from tests.support.browser import launch  # noqa: E402

# the first contentful paint on the epoch clock (a frame's own clock starts at its navigation)
PAINT = """() => {
  const entry = performance.getEntriesByName('first-contentful-paint')[0];
  return entry ? performance.timeOrigin + entry.startTime : null;
}"""


def table_html(cell: int, rows: int = 40) -> str:
    body = "".join(
        f"<tr><th>{2015 + r % 8}{'FA' if r % 2 else 'SP'}</th><td>{100 + (cell * 7 + r) % 900}</td>"
        f"<td>{0.5 + ((cell + r) % 40) / 100:.3f}</td></tr>"
        for r in range(rows)
    )
    return (
        '<table border="1" class="dataframe"><thead><tr style="text-align: right;">'
        "<th>term</th><th>n</th><th>completion</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def five_megabytes(megabytes: float) -> nbformat.NotebookNode:
    """Cells alternating a table, a text output and a markdown note until the size is reached."""
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    size, i = 0, 0
    while size < megabytes * 1_000_000:
        html = table_html(i)
        text = "\n".join(f"{2015 + r % 8}  {100 + (i + r) % 900}" for r in range(40))
        nb.cells.append(new_markdown_cell(f"## Completion by term, cohort {i}"))
        nb.cells.append(
            new_code_cell(
                f"df_{i} = completion_by_term(cohort={i})\ndf_{i}",
                execution_count=i + 1,
                outputs=[
                    new_output(
                        "execute_result",
                        data={"text/html": html, "text/plain": text},
                        execution_count=i + 1,
                    )
                ],
            )
        )
        i += 1
        if i % 100 == 0:  # the file as stored: JSON escapes, metadata
            size = len(nbformat.writes(nb))
    return nb


def open_request(enclave, nb) -> tuple[str, int]:
    from enclave.output_review.gate import Gate
    from enclave.projects import ProjectRegistry
    from enclave.review_service.config import ReviewService
    from enclave.review_service.identity import SCOPE_SUBMIT, Actor
    from enclave.review_service.store import FrozenStore
    from enclave.review_service.workflow import ReviewWorkflow, Submission
    from enclave.state import make_engine

    engine = make_engine(enclave.state_url)
    settings = ReviewService(config=Config(), store_dir=str(enclave.hub.hub_dir / "review"))
    workflow = ReviewWorkflow(
        engine, FrozenStore(settings.store_dir), settings, ProjectRegistry(engine), Gate()
    )
    rita = Actor(enclave.names["rita"], frozenset({SCOPE_SUBMIT}))
    data = nbformat.writes(nb).encode()
    upload = workflow.store.open_upload()
    upload.write(data)
    note = "the benchmark's tables are synthetic"
    result = workflow.submit(
        rita,
        upload,
        Submission(
            notebook="big.ipynb", project="bench", purpose="page benchmark", exception_note=note
        ),
    )
    engine.dispose()
    return result["id"], len(data)


def timed_get(http, url: str, hub_dir: Path) -> tuple[float, float, int]:
    cpu = service_cpu_seconds(hub_dir)
    start = time.perf_counter()
    response = http.get(url, timeout=600)
    wall = time.perf_counter() - start
    response.raise_for_status()
    return wall, service_cpu_seconds(hub_dir) - cpu, len(response.content)


def browser_load(context, url: str) -> dict:
    """Milliseconds from the page's navigation to its first paint and to the notebook frame's,
    and seconds until the frame's last output is there."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=600_000)  # "load" waits for the frame too
    frame = page.frame_locator("iframe").first
    frame.locator(".jp-OutputArea-output").last.wait_for(timeout=600_000)
    outputs_done = time.perf_counter() - start
    origin = page.evaluate("() => performance.timeOrigin")
    page_paint = page.evaluate(PAINT) - origin
    child = next(f for f in page.frames if f != page.main_frame)
    frame_paint = child.evaluate(PAINT) - origin
    page.close()
    return {"page_fcp": page_paint, "frame_fcp": frame_paint, "last_output": outputs_done}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=5.0)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="review-page-bench-"))
    with review_enclave(root) as (enclave, people, base):
        hub_dir = enclave.hub.hub_dir
        rid, size = open_request(enclave, five_megabytes(args.megabytes))
        http, _ = people["rev1"]
        http.get(base, timeout=60).raise_for_status()  # the service's OAuth sign-in, once
        page_url, frame_url = f"{base}requests/{rid}", f"{base}requests/{rid}/notebook"
        first_render = timed_get(http, frame_url, hub_dir)
        pages = [timed_get(http, page_url, hub_dir) for _ in range(args.loads)]
        frames = [timed_get(http, frame_url, hub_dir) for _ in range(args.loads)]
        # the browser's first load renders afresh: remove the cached rendering
        for cached in (hub_dir / "review" / "cache").glob("*.review.html"):
            cached.unlink()
        with sync_playwright() as p:
            browser = launch(p)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            sign = context.new_page()
            sign.goto(f"{enclave.hub.url}/hub/oauth_login?next=/services/review/")
            sign.fill("input[name=login]", enclave.names["rev1"])
            sign.fill("input[name=password]", enclave.password)
            sign.click("button[type=submit]")
            sign.wait_for_url(f"{enclave.hub.url}/services/review/**")
            sign.close()
            loads = [browser_load(context, page_url) for _ in range(args.loads + 1)]
            browser.close()
    load = os.getloadavg()
    print(f"notebook                {size / 1e6:.1f} MB, request {rid}; load average {load[0]:.1f}")
    print(
        f"server: first rendering {first_render[0]:.2f} s wall, {first_render[1]:.2f} s service "
        f"CPU ({first_render[2] / 1e6:.1f} MB of HTML, {size / first_render[0] / 1e6:.1f} MB/s)"
    )
    for label, runs in (("request page (HTML)", pages), ("rendering, cached", frames)):
        walls = [r[0] for r in runs]
        cpu = statistics.median(r[1] for r in runs)
        print(
            f"server: {label:<20}median {statistics.median(walls) * 1000:7.1f} ms wall, "
            f"{cpu * 1000:6.1f} ms service CPU ({runs[0][2] / 1e3:,.0f} kB, {len(runs)} loads)"
        )
    cold, warm = loads[0], loads[1:]
    print(
        f"browser, first load:    page first paint {cold['page_fcp']:.0f} ms, notebook first "
        f"paint {cold['frame_fcp']:.0f} ms, last output in {cold['last_output']:.2f} s"
    )
    print(
        "browser, cached:        page first paint "
        f"{statistics.median(w['page_fcp'] for w in warm):.0f} ms, notebook first paint "
        f"{statistics.median(w['frame_fcp'] for w in warm):.0f} ms, last output in "
        f"{statistics.median(w['last_output'] for w in warm):.2f} s (median of {len(warm)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
