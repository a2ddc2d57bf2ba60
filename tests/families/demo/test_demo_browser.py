"""The demo page in a real headless Chromium (the distribution's package, driven by Playwright:
no browser is downloaded): the page loads, each tab renders, and a stroke painted with the mouse
gives an output picture. Without a Chromium the test fails, naming what to install."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """The system Chromium; fails (never skips) when there is none."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no Chromium found (/usr/bin/chromium): install the distribution's package, e.g. "
                "`sudo apt-get install chromium` (as .ci/run does); the browser test never downloads one")


def open_page(playwright, url: str, profile: Path, requested: list[str]):
    """A new browser (empty profile) on ``url``; every address the page asks for is appended to
    ``requested``."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url, wait_until="networkidle")
    return context, page


def drag(page, selector: str, points: list[tuple[float, float]]) -> None:
    """Press the mouse at the first of ``points`` (offsets from the canvas's centre, as fractions
    of its height: the picture is drawn square in the middle), move through the others, release:
    a painted stroke. A press outside the picture paints nothing."""
    canvas = page.locator(f"{selector} canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    centre_x, centre_y, side = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"]
    at = [(centre_x + dx * side, centre_y + dy * side) for dx, dy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def picture_of(page, image) -> np.ndarray:
    """The picture an <img> of the page shows, fetched from the demo server and decoded."""
    from gan_pipelines.images import read_image

    response = page.request.get(image.get_attribute("src"))
    assert response.ok, f"{image.get_attribute('src')}: HTTP {response.status}"
    return read_image(response.body(), name="the page's picture")


def test_the_page_in_headless_chromium(demo_server, demo_project, data_before_serving, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = demo_server
    with sync_playwright() as playwright:
        requested: list[str] = []
        context, page = open_page(playwright, url, tmp_path / "profile", requested)
        try:
            for tab, element in (("Shadow", "#shadow-run"), ("Sketch -> colour", "#sketch-run"),
                                 ("Label map -> photo", "#label-run")):
                page.get_by_role("tab", name=tab).click()
                page.locator(element).wait_for(state="visible")
            assert "not trained yet" in page.locator("#label-models").inner_text()
            drag(page, "#label-canvas", [(-0.25, -0.15), (0.0, 0.0), (0.25, 0.1)])
            page.locator("#label-run").click()
            output = page.locator("#label-output img").first
            output.wait_for(state="visible", timeout=30_000)
            assert page.locator("#label-output img").count() == 1
            seen = picture_of(page, page.locator("#label-seen img").first)
            # the stroke reached the model: the map holds the brush's class (1) besides the canvas's (0)
            legend = re.search(r"class 1 .*?#([0-9a-f]{6})", page.locator("#label-legend").inner_text())
            brush = np.asarray(list(bytes.fromhex(legend.group(1))), np.uint8)
            assert (seen == brush).all(axis=2).sum() > 100
            assert picture_of(page, output).shape == (*seen.shape[:2], 3)
            shot = tmp_path / "demo_label_to_photo.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert shot.stat().st_size > 10_000
        finally:
            context.close()
    # offline and private: fonts, scripts, themes and pictures all come from the demo server
    outside = [address for address in requested if not address.startswith((url.rstrip("/"), "data:", "blob:"))]
    assert len(requested) > 10 and not outside, outside
    # nothing written into data/ (uploads and outputs live in Gradio's temporary folder)
    from .conftest import data_files

    assert data_files(demo_project) == data_before_serving
