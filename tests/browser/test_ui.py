"""The web page at /ui in headless Chromium against a live service (real API, worker and zoo)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    ALICE,
    BOB,
    PARTITION,
    XSS_CLASS,
    XSS_METRIC,
    XSS_NAME,
    Site,
    screenshot_dirs,
)

pytestmark = [pytest.mark.system, pytest.mark.slow]


def login(page: Any, token: str, path: str = "/ui") -> None:
    """Open a page, type the token into the header's field (kept in sessionStorage) and use it."""
    page.goto(path)
    expect(page.locator("#error")).to_contain_text("needs an API token")  # before: the API's 401
    page.errors.clear()  # those 401s were expected
    page.fill("#token", token)
    page.click("#token-form button")
    expect(page.locator("#token-state")).to_have_text("token set")


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """A full-page screenshot into the test's folder; copies elsewhere as 256-colour PNGs (to commit)."""
    from PIL import Image

    first, *others = screenshot_dirs(tmp_path)
    page.screenshot(path=str(first / f"{name}.png"), full_page=True)
    for folder in others:
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.open(first / f"{name}.png").convert("RGB")
        small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(folder / f"{name}.png", optimize=True)


def no_errors(page: Any, allow: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.errors if not any(a in e for a in allow)]
    assert not errors, errors


def compact(n: int) -> str:  # the page's number format (app.js `compact`)
    for div, unit, digits in ((1e9, " G", 2), (1e6, " M", 2), (1e3, " k", 1)):
        if abs(n) >= div:
            return f"{n / div:.{digits}f}{unit}"
    return str(n)


def test_zoo_page_lists_the_models(page: Any, zoo: list[dict], fashion: dict, tmp_path: Path) -> None:
    login(page, ALICE)
    rows = page.locator("#models tbody tr")
    expect(rows.first).to_be_visible()
    for m in zoo:
        row = rows.filter(has=page.get_by_role("link", name=m["name"], exact=True))
        expect(row).to_have_count(1)
        cells = row.locator("td")
        expect(cells.nth(2)).to_have_text(m["architecture"])
        expect(cells.nth(4)).to_have_text(compact(m["params"]))
        expect(cells.nth(5)).to_have_text(compact(m["flops"]))
        expect(cells.nth(6)).to_have_text(f"{100 * m['metrics']['source_accuracy']:.1f} %")
        expect(cells.nth(7)).to_have_text("ready")
        expect(cells.nth(8)).to_have_text("done")
    families = set(page.locator("#models tbody tr td:nth-child(4)").all_inner_texts())
    assert len(families) >= 3, families  # the zoo mixes architectures
    expect(page.locator(f"#probe-dataset option[value='{fashion['id']}']")).to_have_text(
        f"{fashion['name']} ({fashion['num_images']} images)"
    )
    shot(page, tmp_path, "zoo")
    no_errors(page)


def test_pages_enforce_the_owner_through_the_token(
    page: Any, site: Site, zoo: list[dict], partition: dict
) -> None:
    page.goto("/ui")  # no token: the API's 401, said on the page; the shell itself carries no data
    expect(page.locator("#error")).to_contain_text("needs an API token")
    expect(page.locator("#models")).to_have_count(0)
    assert zoo[0]["name"] not in page.content()

    login(page, BOB)  # another owner sees none of alice's models, and her partition is a 404
    expect(page.locator("#content")).to_contain_text("No models yet")
    page.goto(f"/ui/partitions/{partition['id']}")
    expect(page.locator("#error")).to_contain_text(f"no partition with id {partition['id']!r}")
    expect(page.locator("#sets")).to_have_count(0)

    page.fill("#token", ALICE)  # the same tab with alice's token sees it
    page.click("#token-form button")
    expect(page.locator("#sets .set")).to_have_count(PARTITION["k"])
    expect(page.locator("#error")).to_be_hidden()
    no_errors(page, allow=("status of 401", "status of 404"))


def test_model_page_shows_its_nodes(page: Any, site: Site, zoo: list[dict]) -> None:
    m = zoo[0]
    nodes = site.api.get(f"/v1/models/{m['id']}/nodes").json()["nodes"]
    login(page, ALICE, f"/ui/models/{m['id']}")
    rows = page.locator("#node-table tbody tr")
    expect(rows).to_have_count(len(nodes))
    for i in (0, len(nodes) - 1):
        expect(rows.nth(i).locator("td").nth(1)).to_have_text(nodes[i]["path"])
    expect(page.locator("h1")).to_contain_text(m["name"])
    no_errors(page)


def _loaded(page: Any, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )


def test_partition_page_shows_both_pictures_and_the_sets(page: Any, partition: dict, tmp_path: Path) -> None:
    login(page, ALICE, f"/ui/partitions/{partition['id']}")
    for img in ("#similarity-png", "#partition-png"):
        _loaded(page, img)
        assert page.eval_on_selector(img, "i => i.src.startsWith('blob:')")  # fetched with the token
    sets = page.locator("#sets .set")
    expect(sets).to_have_count(len(partition["sets"]))
    for i, s in enumerate(partition["sets"]):
        rows = sets.nth(i).locator("tbody tr")
        expect(rows).to_have_count(len(s["blocks"]))
        for j, b in enumerate(s["blocks"]):
            expect(rows.nth(j).locator("td").nth(0)).to_have_text(b["model_name"])
            expect(rows.nth(j).locator("td").nth(1)).to_have_text(f"{b['first_node']}–{b['last_node']}")
    shot(page, tmp_path, "partition")
    no_errors(page)


def test_start_a_partition_from_the_page_and_watch_it_finish(
    page: Any, site: Site, zoo: list[dict], fashion: dict, partition: dict, tmp_path: Path
) -> None:
    """The zoo page's form starts a partition; its progress comes live from the SSE stream."""
    login(page, ALICE)
    for m in zoo[:3]:
        page.get_by_label(f"use {m['name']} in a partition").check()
    page.select_option("#probe-dataset", fashion["id"])
    page.fill("#k", "2")
    # Record every status and progress the widget shows, from its first render to the stream's end.
    page.evaluate(
        """() => { window.__seen = [];
        const box = document.querySelector('#start-job');
        new MutationObserver(() => { const job = box.querySelector('.job'); if (!job) return;
            const state = job.querySelector('.status').textContent + ' '
                + job.querySelector('progress').value;
            if (window.__seen[window.__seen.length - 1] !== state) window.__seen.push(state); })
          .observe(box, {subtree: true, childList: true, characterData: true, attributes: true}); }"""
    )
    page.click("#start-partition")
    status = page.locator("#start-job [data-testid=job-status]")
    expect(status).to_be_visible()
    expect(page.locator("#open-partition")).to_be_visible(timeout=300_000)
    expect(status).to_have_text("succeeded")
    seen = page.evaluate("window.__seen")
    assert seen[0].startswith("queued") and seen[-1] == "succeeded 1", seen  # the stream moved it
    job_id = page.locator("#start-job .job").get_attribute("data-job")
    partition_id = page.locator("#open-partition").inner_text().split()[-1]
    created = site.api.get(f"/v1/partitions/{partition_id}").json()
    assert created["status"] == "done" and created["model_ids"] == [m["id"] for m in zoo[:3]]
    assert created["config"]["k"] == 2 and site.api.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"

    page.click("#open-partition")
    expect(page.locator("#sets .set")).to_have_count(2)
    _loaded(page, "#partition-png")

    page.goto(f"/ui/jobs/{job_id}")  # the job's own page: finished, with its result
    expect(page.locator("[data-testid=job-status]")).to_have_text("succeeded")
    expect(page.locator("#result")).to_contain_text("sketches_computed")
    page.goto("/ui/jobs")
    expect(page.locator(f"#jobs .job[data-job='{job_id}']")).to_be_visible()
    shot(page, tmp_path, "jobs")
    no_errors(page)


def test_assembly_page_shows_chain_baseline_gain_chart_and_downloads(
    page: Any, site: Site, assembly: dict, tmp_path: Path
) -> None:
    a, chosen, base = assembly, assembly["chosen"], assembly["baseline"]
    login(page, ALICE, f"/ui/assemblies/{a['id']}")
    blocks = page.locator("#chain [data-testid=chain-block]")
    expect(blocks).to_have_count(len(chosen["blocks"]))
    for i, b in enumerate(chosen["blocks"]):
        expect(blocks.nth(i)).to_contain_text(b["model_name"])
        expect(blocks.nth(i)).to_contain_text(f"nodes {b['first_node']}–{b['last_node']}")
    inner = [s for s in chosen["stitches"] if s["position"] != f"after_block_{len(chosen['blocks']) - 1}"]
    expect(page.locator("#chain .stitch")).to_have_count(len(inner))
    expect(page.locator("#gain")).to_have_text(f"{a['gain']:+.2f} points".replace("+-", "-"))
    expect(page.locator("#chosen-heldout")).to_have_text(f"{100 * chosen['heldout_accuracy']:.1f} %")
    if base:
        expect(page.locator("#baseline")).to_contain_text(base["model_name"])
        expect(page.locator("#baseline")).to_contain_text(f"{100 * base['heldout_accuracy']:.1f} %")
    # The chart: one line per trained network, one point per epoch (0 = before training).
    lines = page.locator("#epoch-chart polyline")
    expect(lines).to_have_count(len(a["candidates"]) + (1 if base and base["training"] else 0))
    points = lines.first.get_attribute("points") or ""
    assert len(points.split()) == len(chosen["training"]) == a["config"]["training"]["epochs"] + 1
    shot(page, tmp_path, "assembly")

    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "download.zip"
    info.value.save_as(saved)
    assert info.value.suggested_filename == f"{a['id']}.zip"
    assert saved.read_bytes() == site.api.get(f"/v1/assemblies/{a['id']}/checkpoint").content
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as zf:
        assert {"model.safetensors", "manifest.json", "README.md"} <= set(zf.namelist())
    no_errors(page)


def test_markup_in_names_is_shown_as_text_and_never_runs(page: Any, site: Site, xss_model: dict) -> None:
    login(page, ALICE)
    link = page.get_by_role("link", name=XSS_NAME, exact=True)
    expect(link).to_be_visible()  # the name, literally, as the link's text
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.scripts.length") == 1  # app.js only: no element was made of data

    link.click()
    expect(page.locator("h1")).to_have_text(f"Model {XSS_NAME}")
    expect(page.locator(".classes li").first).to_have_text(XSS_CLASS)
    expect(page.locator(".facts")).to_contain_text(XSS_METRIC)
    assert page.locator(".classes img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.scripts.length") == 1

    # Server side: the shell puts an id only into an escaped attribute, and odd ids are refused.
    r = site.api.get("/ui/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status_code == 404 and "<script>" not in r.text
    shell = site.api.get('/ui/models/x"onload="1')
    assert shell.status_code == 404
    no_errors(page)


def test_job_page_follows_a_running_job_live(page: Any, site: Site) -> None:
    """A job's page shows its progress as the stream reports it, then its result."""
    job = site.api.post("/v1/jobs:canary", json={"seconds": 4}).json()
    login(page, ALICE, f"/ui/jobs/{job['id']}")
    expect(page.locator(".job progress")).to_be_visible()
    page.evaluate(
        """() => { window.__progress = [];
        const bar = document.querySelector('.job progress');
        const note = () => window.__progress.push(bar.value); note();
        new MutationObserver(note).observe(bar, {attributes: true}); }"""
    )
    expect(page.locator("[data-testid=job-status]")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#result")).to_contain_text("slept_seconds")
    expect(page.locator("#cancel")).to_be_disabled()
    seen = page.evaluate("window.__progress")
    assert any(0 < p < 1 for p in seen) and seen[-1] == 1, seen  # moved while it ran, not only at the end
    no_errors(page)
