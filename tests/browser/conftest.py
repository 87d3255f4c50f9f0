"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Chromium comes from Debian (`/usr/bin/chromium`); it is installed with apt when missing and
we are root. Nothing is downloaded by `playwright install`. With CI=true a missing browser
fails the run instead of skipping it. Screenshots land in `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _ensure_chromium() -> str | None:
    """The Chromium executable, installing Debian's package when missing (root only)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
    return CHROMIUM if Path(CHROMIUM).exists() else None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = _ensure_chromium()
    if executable is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser context (no cookies) on a laptop-sized window."""
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)  # a cold Chromium on a loaded 2-core machine
    opened = context.new_page()
    yield opened
    context.close()


def login(page, username: str, password: str) -> None:
    """Log in through the login form and wait for the page after it."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.press("#id_password", "Enter")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
