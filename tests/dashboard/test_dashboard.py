"""`labrunner class serve`: the class dashboard, run as an instructor runs it (a subprocess on a free
port) and looked at in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

Alice and Bob have deployed the workload, Carol's role cannot be assumed (her row is an error row).
A student's change, made by hand with boto3 as a console click would leave it, must appear on the
open page without a reload. The run saves a screenshot of the page; with LABRUNNER_SCREENSHOT=docs it
refreshes docs/dashboard.png, the README's (so that an ordinary test run leaves the checkout clean).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from labrunner.aws.s3 import log_delivery_statement
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.conftest import REPO, free_port, reset_server
from tests.helpers import cli, local_context, require_tool, run, statuses

ALICE, BOB = "111111111111", "222222222222"
BROKEN_ROLE = "arn:aws:iam::333333333333:role/NoSuchRole"
README_SCREENSHOT = REPO / "docs" / "dashboard.png"
INTERVAL_S = 2


@pytest.fixture(scope="module")
def roster(local_server: Endpoint, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reset_server(local_server)
    for account in (ALICE, BOB):
        report = run(local_context(local_server, account=account), "solve", ["setup"])
        assert statuses(report) == {"setup.stack": Status.PASS, "setup.pipeline": Status.PASS}
    path = tmp_path_factory.mktemp("dashboard") / "class.yaml"
    path.write_text(
        f'- {{name: alice, account: "{ALICE}"}}\n'
        f'- {{name: bob, account: "{BOB}"}}\n'
        f"- {{name: carol, role_arn: {BROKEN_ROLE}}}\n"
    )
    return path


def serve_env(endpoint: Endpoint) -> dict[str, str]:
    env = {**os.environ, "LABRUNNER_LOCAL_PORT": str(endpoint.port), "PYTHONUNBUFFERED": "1"}
    env.update(  # never a real AWS: no profiles, no metadata service
        AWS_CONFIG_FILE="/nonexistent/labrunner-test-aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/labrunner-test-aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


def start_serve(endpoint: Endpoint, roster: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`labrunner class serve` in its own process group (as from a terminal); returns it and its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labrunner", "class", "serve", "--roster", str(roster), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=serve_env(endpoint),
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first line carries the URL
    match = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
    if match is None:
        proc.kill()
        pytest.fail(f"no URL printed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    assert match.group(0).startswith(f"http://127.0.0.1:{port}/?token=")
    return proc, match.group(0)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err


@pytest.fixture(scope="module")
def dashboard(local_server: Endpoint, roster: Path) -> Iterator[str]:
    proc, url = start_serve(local_server, roster, "--interval", str(INTERVAL_S), "--jobs", "2")
    try:
        yield url
    finally:
        if proc.poll() is None:
            stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    require_tool(
        chromium and driver, "the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
    )
    assert chromium and driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1920,1200"):
        options.add_argument(argument)
    # The driver is given: selenium's own manager never runs, so nothing is downloaded.
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def class_report(url: str, *, newer_than: str | None = None) -> dict[str, Any]:
    """GET /api/class once a complete round (started after `newer_than`) is there."""
    api = url.replace("/?token=", "/api/class?token=")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, body = get(api)
        if code == 200:
            report: dict[str, Any] = json.loads(body)
            if newer_than is None or report["started_at"] > newer_than:
                return report
        else:
            assert code == 503, body  # only while the first round runs
        time.sleep(0.5)
    pytest.fail("no complete round of class checks within 120 s")


def wait_for(browser: WebDriver, condition: Callable[[WebDriver], Any], within_s: float = 90) -> Any:
    return WebDriverWait(browser, within_s, poll_frequency=0.2).until(condition)


# The page redraws its grid on every pushed change: read it in one script (atomically), never
# element by element.
GRID_JS = """
const rows = {};
for (const tr of document.querySelectorAll('#grid tbody tr')) {
  const cells = {};
  for (const td of tr.querySelectorAll('td.cell')) cells[td.dataset.step] = [td.dataset.status, td.textContent];
  const error = tr.querySelector('td.account-error');
  rows[tr.dataset.student] = {checked_at: tr.dataset.checkedAt, cells, error: error ? error.textContent : null};
}
const stuck = {};
for (const td of document.querySelectorAll('td[data-stuck]')) stuck[td.dataset.stuck] = Number(td.textContent);
return {rows, stuck, round: Number(document.body.dataset.round || 0)};
"""


def grid(browser: WebDriver) -> dict[str, Any]:
    return dict(browser.execute_script(GRID_JS))


def cell_status(browser: WebDriver, name: str, step_id: str) -> str | None:
    row = grid(browser)["rows"].get(name)
    return row["cells"].get(step_id, [None])[0] if row else None


def click_cell(browser: WebDriver, name: str, step_id: str) -> None:
    """A real click; the cell may be redrawn between finding and clicking it, then find it again."""
    selector = f'tr[data-student="{name}"] td.cell[data-step="{step_id}"]'
    for _ in range(20):
        try:
            browser.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    pytest.fail(f"could not click {selector}")


def student(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["students"] if s["name"] == name)


def step_of(report: dict[str, Any], name: str, step_id: str) -> dict[str, Any]:
    return next(s for s in student(report, name)["report"]["steps"] if s["id"] == step_id)


def enable_access_logging(endpoint: Endpoint, account: str) -> None:
    """What a student's console clicks leave: a separate log bucket that accepts the logs, and server
    access logging of the upload bucket into it."""
    ctx = local_context(endpoint, account=account)
    s3, upload = ctx.client("s3"), ctx.workload().bucket
    log_bucket = f"alice-access-logs-{int(time.time())}"
    s3.create_bucket(Bucket=log_bucket)
    statement = log_delivery_statement(log_bucket, [upload], ctx.account_id, ctx.region)
    s3.put_bucket_policy(Bucket=log_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    s3.put_bucket_logging(
        Bucket=upload,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": log_bucket, "TargetPrefix": f"{upload}/"}},
    )


# -- the tests ------------------------------------------------------------------------------------------
def test_every_request_needs_the_token(dashboard: str) -> None:
    base, token = dashboard.split("/?token=")
    for path in ("/", "/api/class", "/api/events", "/static/app.js", "/static/app.css", "/nothing"):
        assert get(base + path)[0] == 403, path
        assert get(f"{base}{path}?token=wrong-{token}")[0] == 403, path
        assert get(f"{base}{path}?token={token[:-1]}")[0] == 403, path
    request = urllib.request.Request(f"{base}/api/class", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    code, page = get(dashboard)
    assert code == 200 and b'id="grid"' in page
    assert f"static/app.js?token={token}".encode() in page  # the page's assets carry the token, all local
    assert not re.search(rb"(src|href)=\"https?://", page)


def statuses_of(report: dict[str, Any]) -> dict[str, Any]:
    return {
        s["name"]: {step["id"]: step["status"] for step in s["report"]["steps"]} if "report" in s else s["error"]
        for s in report["students"]
    }


def test_api_class_is_the_class_check_report(dashboard: str, roster: Path, local_env: Endpoint) -> None:
    report = class_report(dashboard)
    check = cli("class", "check", "--roster", str(roster), "--format", "json")
    expected = json.loads(check.out)
    assert set(report) == set(expected)
    assert statuses_of(report) == statuses_of(expected)  # what `class check --format json` says
    assert report["schema"] == "labrunner.class-report/v1"
    assert report["command"] == "check"
    assert [s["name"] for s in report["students"]] == ["alice", "bob", "carol"]
    assert "cannot assume" in student(report, "carol")["error"]
    assert "report" not in student(report, "carol")
    alice = student(report, "alice")["report"]
    assert alice["schema"] == "labrunner.report/v1" and alice["account"] == ALICE
    assert step_of(report, "alice", "setup.stack")["status"] == "pass"
    assert step_of(report, "alice", "lab2.access-logging")["status"] == "fail"


def test_the_dashboard_in_a_browser(dashboard: str, browser: WebDriver, local_server: Endpoint, tmp_path: Path) -> None:
    before = class_report(dashboard)
    browser.get(dashboard)
    browser.execute_script("window.__sameDocument = true;")  # gone if the page were reloaded
    wait_for(browser, lambda b: cell_status(b, "alice", "setup.stack") == "pass")

    # The grid: students x steps, the terminal grid's symbols; Carol's account error is her row.
    marks = {"pass": "✓", "fail": "✗", "skipped": "-", "pending": "…", "error": "!"}
    shown = grid(browser)
    for name in ("alice", "bob"):
        for step in student(before, name)["report"]["steps"]:
            assert shown["rows"][name]["cells"][step["id"]] == [step["status"], marks[step["status"]]], step["id"]
    assert shown["rows"]["carol"]["cells"] == {}
    assert "cannot assume" in shown["rows"]["carol"]["error"]

    # Who is stuck where: each student counts at their first failing step.
    assert sum(shown["stuck"].values()) == 2  # alice and bob; carol has an error, not a step
    first_failing = next(s["id"] for s in student(before, "alice")["report"]["steps"] if s["status"] == "fail")
    assert shown["stuck"][first_failing] >= 1

    # A click on a cell opens the student's step: its status, checks, NIST controls and hint.
    click_cell(browser, "alice", "lab2.access-logging")
    detail = browser.find_element(By.ID, "detail")
    wait_for(browser, lambda b: detail.is_displayed())
    expected = step_of(before, "alice", "lab2.access-logging")
    assert "alice · lab2.access-logging" in browser.find_element(By.ID, "detail-title").text
    assert browser.find_element(By.ID, "detail-hint").text == expected["hint"]
    assert "AU-2 Event Logging" in browser.find_element(By.ID, "detail-controls").text
    checks = browser.find_element(By.ID, "detail-checks").text
    assert all(c["detail"] in checks for c in expected["checks"])
    assert "is off" in checks

    # Alice turns on access logging in her account: the open page shows it without a reload, the
    # open detail follows, and Carol's error row stays while the others keep updating.
    rows = grid(browser)["rows"]
    bob_checked, carol_checked = rows["bob"]["checked_at"], rows["carol"]["checked_at"]
    enable_access_logging(local_server, ALICE)
    changed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    wait_for(browser, lambda b: cell_status(b, "alice", "lab2.access-logging") == "pass")
    assert grid(browser)["rows"]["alice"]["cells"]["lab2.access-logging"] == ["pass", "✓"]
    wait_for(browser, lambda b: "pass" in b.find_element(By.ID, "detail-status").get_attribute("class"))
    assert "goes to s3://alice-access-logs-" in browser.find_element(By.ID, "detail-checks").text
    assert browser.execute_script("return window.__sameDocument === true")
    after = class_report(dashboard, newer_than=changed_at)
    assert step_of(after, "alice", "lab2.access-logging")["status"] == "pass"
    assert step_of(after, "bob", "lab2.access-logging")["status"] == "fail"
    assert "cannot assume" in student(after, "carol")["error"]
    wait_for(browser, lambda b: grid(b)["rows"]["bob"]["checked_at"] > bob_checked, within_s=10)
    wait_for(browser, lambda b: grid(b)["rows"]["carol"]["checked_at"] > carol_checked, within_s=10)
    assert "cannot assume" in grid(browser)["rows"]["carol"]["error"]  # re-tried every round, still an error

    # The README's screenshot: Alice's detail closed, Bob's failing access logging open.
    browser.find_element(By.ID, "detail-close").click()
    click_cell(browser, "bob", "lab2.access-logging")
    wait_for(browser, lambda b: "bob · lab2.access-logging" in b.find_element(By.ID, "detail-title").text)
    screenshot = README_SCREENSHOT if os.environ.get("LABRUNNER_SCREENSHOT") == "docs" else tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def wait_for_event(url: str, wanted: Callable[[str, dict[str, Any]], bool]) -> None:
    """Read the page's event stream until an event that `wanted(name, data)` accepts."""
    stream = url.replace("/?token=", "/api/events?token=")
    with urllib.request.urlopen(stream, timeout=60) as events:
        name = ""
        for raw in events:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and wanted(name, json.loads(line.removeprefix("data: "))):
                return


@pytest.mark.parametrize("moment", ["while students are checked", "between rounds"])
def test_ctrl_c_stops_the_dashboard_cleanly(local_server: Endpoint, roster: Path, moment: str) -> None:
    proc, url = start_serve(local_server, roster, "--interval", "4", "--jobs", "2")
    if moment == "between rounds":
        wait_for_event(url, lambda name, data: name == "round" and data["running"] is False)
    else:  # worker processes are grading (a student's check began in one)
        wait_for_event(url, lambda name, data: name == "student" and data["checking"] is True)
    started = time.monotonic()
    code, err = stop(proc)
    assert time.monotonic() - started < 5
    assert code == 0, err
    assert [line for line in err.splitlines() if line.strip()] == ["labrunner: dashboard stopped"], err
    with pytest.raises(OSError):  # the port is free of the dashboard: nothing answers any more
        urllib.request.urlopen(url, timeout=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--port", "0"], "--port must be between 1 and 65535, not 0"),
        (["--port", "70000"], "--port must be between 1 and 65535, not 70000"),
        (["--interval", "0"], "--interval must be a number of seconds, at least 1, not 0"),
        (["--interval", "nan"], "--interval must be a number of seconds, at least 1, not nan"),
        (["--interval", "soon"], "argument --interval: invalid float value: 'soon' (see `labrunner class --help`)"),
        (["--format", "json"], "class serve takes no --format or --output: GET /api/class gives the JSON report"),
    ],
)
def test_bad_port_or_interval_is_one_line_and_exit_2(
    local_env: Endpoint, tmp_path: Path, options: list[str], message: str
) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text(f'- {{name: alice, account: "{ALICE}"}}\n')
    result = cli("class", "serve", "--roster", str(roster), *options)
    assert result.code == 2
    assert result.err.splitlines() == [f"labrunner: {message}"]


def test_a_port_in_use_is_one_line_and_exit_2(local_env: Endpoint, tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text(f'- {{name: alice, account: "{ALICE}"}}\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("class", "serve", "--roster", str(roster), "--port", str(port))
    assert result.code == 2
    in_use = f"labrunner: port {port} on 127.0.0.1 is already in use; choose another with --port"
    assert result.err.splitlines() == [in_use]


def test_interval_is_for_serve_only(local_env: Endpoint, tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text(f'- {{name: alice, account: "{ALICE}"}}\n')
    result = cli("class", "check", "--roster", str(roster), "--interval", "5")
    assert result.code == 2
    assert result.err.splitlines() == ["labrunner: --interval applies to `class serve` only"]
