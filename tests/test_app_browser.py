"""The interactive page in a real browser: headless Chromium loads it, a slider (whose value the page
shows) and one of the two staffing systems are changed, the model is reset and stepped, and both
systems' plots and the paired difference must change.

The test starts ``solara run sim/app.py`` itself on a free local port and stops it afterwards. It needs
Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it) and the page's front-end
files in Solara's cache (``uv run python -m sim.app_assets``; ``.ci/run`` fetches them). Without them
it is skipped, with the reason, outside CI and fails in CI. On failure it saves a screenshot to
``$NWSIM_ARTIFACTS_DIR`` (default: the test's temporary folder) and names the file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import in_ci

from sim import app_assets
from sim.staffing import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_S = 120
PAGE_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    """Skip outside CI; in CI nothing may be skipped, so fail."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        _unavailable("no Chromium browser found (Debian: apt-get install -y chromium; .ci/run installs it)")
    return str(path)


@pytest.fixture(scope="module")
def front_end() -> None:
    missing = app_assets.missing_packages()
    if missing:
        _unavailable(
            f"the page's front-end files are not in Solara's cache ({', '.join(missing)}): "
            "run `uv run python -m sim.app_assets` (.ci/run does)"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _solara() -> list[str]:
    """The solara command of this environment (beside the running Python), else ``uv run solara``."""
    exe = Path(sys.executable).with_name("solara")
    return [str(exe)] if exe.exists() else ["uv", "run", "solara"]


@pytest.fixture(scope="module")
def server(front_end: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("solara") / "server.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*_solara(), "run", "sim/app.py", "--port", str(port), "--host", "127.0.0.1", "--production", "--no-open"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so every child is stopped with it
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the Solara server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Solara server did not answer within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NWSIM_ARTIFACTS_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_two_systems_side_by_side_change_with_sliders_and_steps(server: str, chromium: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        expect.set_options(timeout=PAGE_TIMEOUT_MS)  # a loaded machine may take seconds to build and draw
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(server)
            summary = page.locator(".nwsim-summary")
            differences = page.locator(".nwsim-differences")
            plots = {name: page.locator(f".nwsim-{name} img") for name in ("outcomes", "workload", "workers")}
            for plot in plots.values():
                expect(plot).to_be_visible()
            # Two systems on the same team: duty and named by default.
            expect(summary).to_contain_text("duty: 750 people")
            expect(summary).to_contain_text("named: 750 people")
            expect(summary).to_contain_text("week 0 (day 0)")
            expect(differences).to_contain_text("named − duty")

            # A slider shows its value with its unit; move the team-size slider (step 50): 750 -> 500.
            control = page.locator(".nwsim-control-people")
            expect(control.locator(".nwsim-value")).to_have_text("750 people")
            people = control.get_by_role("slider")
            people.focus()
            for _ in range(5):
                people.press("ArrowLeft")
            expect(people).to_have_attribute("aria-valuenow", "500")
            expect(control.locator(".nwsim-value")).to_have_text("500 people")
            # Compare the hybrid system with duty instead of named.
            page.locator(".v-select", has_text="Staffing system").click()
            page.get_by_role("option", name=SYSTEMS["hybrid"].label).click()

            # Sliders act when new models are built: Reset, and the page shows the new teams.
            page.get_by_role("button", name="Reset").click()
            expect(summary).to_contain_text("duty: 500 people")
            expect(summary).to_contain_text("hybrid: 500 people")
            expect(summary).to_contain_text("week 0 (day 0)")
            expect(differences).to_contain_text("hybrid − duty")
            before = {name: plot.get_attribute("src") for name, plot in plots.items()}
            table = differences.inner_text()

            page.get_by_role("button", name="Step").click()
            expect(summary).to_contain_text("week 1 (day 7)")
            for name, plot in plots.items():
                expect(plot).not_to_have_attribute("src", before[name])  # each plot was drawn again
            expect(differences).to_contain_text("week 1, so far")
            assert differences.inner_text() != table  # the paired difference moved on with both teams
            page.get_by_role("button", name="Step").click()
            expect(summary).to_contain_text("week 2 (day 14)")
            assert not errors, f"errors in the page: {errors}"
        except BaseException:
            shot = _artifacts(tmp_path) / "app_browser_failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
            raise
        finally:
            browser.close()
