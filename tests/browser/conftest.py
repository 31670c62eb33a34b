"""Browser tests: Debian's Chromium, headless, driven by Selenium through Debian's chromedriver.

The browser is part of the test set-up (scripts/test.sh installs it with apt). If it is missing the
tests fail loudly instead of skipping, so a green run always means the browser tests ran.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WAIT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update", "--disable-sync",
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash.setdefault(_failed_key, report.failed)
    return report


_failed_key = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) or shutil.which(p))]
    if missing:
        pytest.fail(
            f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
            "run `bash scripts/test.sh`, which installs them, or `apt-get install chromium chromium-driver`"
        )
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(request: pytest.FixtureRequest, chromium_paths: tuple[str, str]) -> Iterator[Callable[[], Any]]:
    """Factory of headless Chromium sessions; each one's screenshot is saved if the test fails."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []

    def launch() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_paths[0]
        for argument in BROWSER_ARGS:
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(chromium_paths[1]), options=options)
        driver.set_page_load_timeout(WAIT * 4)
        driver.set_script_timeout(WAIT)
        drivers.append(driver)
        return driver

    yield launch
    failed = request.node.stash.get(_failed_key, False)
    for index, driver in enumerate(drivers):
        try:
            if failed:
                ARTIFACTS.mkdir(exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
                driver.save_screenshot(str(ARTIFACTS / f"{name}-{index}.png"))
        finally:
            driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 10.0) -> Any:
    """Poll a JavaScript expression until it is truthy; fail with its last value after *timeout*."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(script))
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for: {script}") from None
