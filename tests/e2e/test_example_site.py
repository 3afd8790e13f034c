"""The example site in a real browser: Debian's Chromium driven by Playwright.

The example project runs as a newcomer runs it (its own settings, a fresh SQLite file,
``runserver`` without DEBUG) in a subprocess; the browser signs in, sets up MFA reading
the key from the page and computing codes as an authenticator app does (pyotp), and signs
in again with a code and with backup codes. A screenshot of each step goes to
``artifacts/e2e/``.

Skipped, with the reason, without Playwright (``pip install -e ".[e2e]"``) or without
``/usr/bin/chromium`` (``apt-get install chromium``). Playwright never downloads a browser
here. ``MFA_E2E_REQUIRED=1`` (CI) turns those skips into failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyotp
import pytest

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "example_project" / "manage.py"
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "demo-password-123"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
REQUIRED = os.environ.get("MFA_E2E_REQUIRED") == "1"


def _cannot_run(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"MFA_E2E_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if os.environ.get("MFA_TEST_USER_MODEL", "auth") != "auth":
    # The example site has a user model of its own: one browser run is enough.
    pytest.skip(
        "the example site does not depend on MFA_TEST_USER_MODEL; "
        "its browser tests run in the pass with MFA_TEST_USER_MODEL=auth",
        allow_module_level=True,
    )
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    _cannot_run('Playwright is not installed: pip install -e ".[e2e]"')
if not os.access(CHROMIUM, os.X_OK):
    _cannot_run(f"no Chromium at {CHROMIUM}: apt-get install chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{log.read_text()}"


CREATE_USERS = f"""
from django.contrib.auth import get_user_model
for name in {USERS!r}:
    get_user_model().objects.create_user(name, f"{{name}}@example.org", {PASSWORD!r})
"""


def serve_example(tmp: Path, **settings: str):
    """Start the example project (its environment plus ``settings``) on a free port; yield
    its base URL and the folder its mails go to; stop it."""
    log = tmp / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "DJANGO_DEBUG": "0",
        # These tests sign in more often in a minute than a person does.
        "MFA_AUTH_RATE": "300/min",
        # The mails the site sends, as files a test reads (API.md's environment table).
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(tmp / "mail"),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    env.pop("REDIS_URL", None)
    manage("migrate", "--noinput", "-v0", env=env, log=log)
    manage("shell", "-c", CREATE_USERS, env=env, log=log)
    port = free_port()
    with log.open("a") as out:
        server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = f"{base}/site/signin/"
                with urllib.request.urlopen(page, timeout=2) as answer:  # noqa: S310 - http
                    assert answer.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the example site did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield base, tmp / "mail"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_example(tmp_path_factory.mktemp("example-site"))


@pytest.fixture(scope="module")
def required_site(tmp_path_factory: pytest.TempPathFactory):
    """The example project with ``MFA_REQUIRED=all``: every sign-in without MFA sets it up."""
    yield from serve_example(
        tmp_path_factory.mktemp("required-site"), MFA_REQUIRED="all", MFA_REQUIRED_GRACE="0"
    )


@pytest.fixture(scope="module")
def browser():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # the screenshots of this run only
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Tab:
    """One browser tab on the site; its screenshots are numbered with the test's others."""

    def __init__(self, context, base: str, prefix: str, counter: list[int]) -> None:
        self.page = context.new_page()
        self.page.set_default_timeout(10_000)
        self.base, self.prefix, self.counter = base, prefix, counter
        self.script_errors: list[str] = []
        self.elsewhere: list[str] = []  # requests that leave the site: there must be none
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        self.page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((base + "/", "blob:", "data:"))
                else self.elsewhere.append(request.url)
            ),
        )
        # Chromium logs every 4xx answer of fetch() as an error; a CSP refusal matters.
        self.page.on(
            "console",
            lambda message: (
                self.script_errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )

    def shot(self, step: str) -> None:
        self.counter[0] += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.prefix}-{self.counter[0]:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=True)

    def sign_in(self, username: str) -> None:
        page = self.page
        page.bring_to_front()  # Chromium slows a background tab's frames, and so its clicks
        page.goto(self.base + "/")
        expect(page).to_have_url(self.base + "/site/signin/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    def expect_code_step(self) -> None:
        expect(self.page.get_by_role("heading", name="Two-step verification")).to_be_visible()
        expect(self.page.get_by_label("Code from your app, or a backup code")).to_be_focused()

    def enter_code(self, code: str) -> None:
        self.page.get_by_label("Code from your app, or a backup code").fill(code)
        self.page.get_by_role("button", name="Verify").click()

    def expect_security_page(self) -> None:
        expect(self.page).to_have_url(self.base + "/site/security/")
        expect(self.page.locator("#mfa-state")).not_to_have_text("Loading…")

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page).to_have_url(self.base + "/site/signin/")
        expect(self.page.get_by_role("status")).to_have_text("You have signed out.")


@pytest.fixture(scope="module")
def site(example_site) -> str:
    return example_site[0]


@pytest.fixture(scope="module")
def mailbox(example_site) -> Path:
    return example_site[1]


def mails(folder: Path) -> list[str]:
    """What the site has mailed so far, each as its file holds it (headers and body)."""
    return [path.read_text() for path in sorted(folder.glob("*.log"))] if folder.exists() else []


@pytest.fixture
def tabs(browser, site):
    """Open tabs of one browser context (a sessionStorage each); afterwards, check that no
    script failed, no Content-Security-Policy refused anything, and no request left the site."""
    context = browser.new_context(accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    opened: list[Tab] = []
    counter = [0]

    def open_tab(prefix: str) -> Tab:
        opened.append(Tab(context, site, prefix, counter))
        return opened[-1]

    yield open_tab
    context.close()
    assert [error for tab in opened for error in tab.script_errors] == []
    assert [url for tab in opened for url in tab.elsewhere] == []


def api(base: str, method: str, path: str, body: dict, token: str | None = None) -> dict:
    """Call the JSON API as any client does (to set a user up without the pages)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"jwt {token}"
    request = urllib.request.Request(  # noqa: S310 - http, to our own server
        base + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.load(answer)


def enroll_by_api(base: str, username: str) -> pyotp.TOTP:
    """Turn MFA on for the user through the API; return their authenticator app."""
    return enroll_with_codes(base, username)[0]


def enroll_with_codes(base: str, username: str) -> tuple[pyotp.TOTP, list[str]]:
    """Turn MFA on for the user through the API; their authenticator app and backup codes."""
    login = {"username": username, "password": PASSWORD}
    token = api(base, "POST", "/auth/password", login)["token"]
    created = api(base, "POST", "/users/me/secrets", {"type": "mfa"}, token)
    app = pyotp.TOTP(created["secret"]["secret"])
    enroll = f"/users/me/secrets/{created['id']}/enroll"
    enrolled = api(base, "PUT", enroll, {"token": app.now()}, token)
    assert enrolled["status"] == "active"
    return app, enrolled["codes"]


def get(base: str, path: str, authorization: str) -> tuple[int, dict]:
    """GET with an Authorization header; the status and the JSON answer, errors included."""
    request = urllib.request.Request(  # noqa: S310 - http, to our own server
        base + path, headers={"Authorization": authorization, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def authenticator(page) -> pyotp.TOTP:
    """What an authenticator app holds after the user types in the key the page shows."""
    expect(page.locator("#manual-secret")).not_to_be_empty()
    return pyotp.TOTP(page.locator("#manual-secret").inner_text().replace(" ", ""))


def backup_codes_shown(page) -> list[str]:
    """The backup codes on the page, as a person copies them down."""
    expect(page.get_by_text("they are shown only this once")).to_be_visible()
    expect(page.locator("#backup-codes li")).to_have_count(10)
    return page.locator("#backup-codes li").all_inner_texts()


def next_code(app: pyotp.TOTP) -> str:
    """The code of the next time step: the server accepts one step of drift, and refuses
    the step a code was already accepted in (RFC 6238 5.2), so no 30 s wait is needed."""
    return app.at(time.time() + app.interval)


def a_wrong_code(app: pyotp.TOTP) -> str:
    """A 6-digit code that is none of those the server could accept now."""
    now = time.time()
    valid = {app.at(now + app.interval * offset) for offset in range(-2, 3)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


def test_sign_in_set_up_mfa_then_sign_in_with_a_code_and_with_a_backup_code(tabs, mailbox):
    tab = tabs("1-flow")
    page = tab.page

    tab.sign_in("alice")
    expect(page).to_have_url(tab.base + "/site/security/")
    expect(page.locator("#mfa-state")).to_have_text("Off: your password alone signs you in.")
    expect(page.get_by_text("Signed in as alice")).to_be_visible()
    tab.shot("signed-in-without-mfa")

    page.get_by_role("button", name="Set up two-step verification").click()
    qr = page.get_by_role("img", name="QR code that adds this account to an authenticator app")
    expect(qr).to_have_attribute("src", re.compile(r"^blob:"))  # fetched with the token
    assert qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0  # a real image
    app = authenticator(page)
    assert len(app.secret) >= 32  # 160 bits of key, base32
    tab.shot("setup-qr-code-and-key")

    setup_code = page.get_by_label("Enter the 6-digit code the app shows")
    setup_code.fill(a_wrong_code(app))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#setup-error")).to_contain_text("The code is not valid.")
    tab.shot("setup-wrong-code")

    setup_code.fill(app.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status").first).to_have_text("Two-step verification is on.")
    codes = backup_codes_shown(page)
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code) for code in codes)
    tab.shot("backup-codes-shown-once")

    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#codes-notice")).to_have_text("Copied the codes to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()").split() == codes
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "backup-codes.txt"
    saved = Path(download.value.path()).read_text()
    assert all(code in saved.splitlines() for code in codes)

    # The site mailed alice that MFA went on (NOTIFY), with no code or key in it.
    [sent] = [m for m in mails(mailbox) if "To: alice@example.org" in m]
    assert "Subject: Security notice: MFA turned on" in sent
    assert app.secret not in sent and not any(code in sent for code in codes)

    # The password-only sign-in ends with MFA on (API.md, first section): the page says so.
    page.get_by_role("button", name="I have saved them").click()
    expect(page).to_have_url(tab.base + "/site/signin/")
    expect(page.get_by_role("status")).to_have_text(
        "Two-step verification is on: sign in with your password and a code from your app."
    )
    tab.shot("signed-out-after-setup")

    # The password alone now asks for the second step; the code that enrolled is spent,
    # so the app's next code signs in.
    tab.sign_in("alice")
    tab.expect_code_step()
    tab.shot("asks-for-a-code")
    tab.enter_code(next_code(app))
    expect(page).to_have_url(tab.base + "/site/security/")
    expect(page.locator("#mfa-state")).to_contain_text("On since")
    expect(page.locator("#mfa-state")).to_contain_text("10 backup codes left.")
    expect(page.locator("#backup-codes li")).to_have_count(0)
    # The security history, newest first: this sign-in, then turning MFA on.
    events = page.locator("#events li")
    expect(events.nth(0)).to_contain_text("Signed in with a code from your app")
    expect(events.nth(1)).to_contain_text("Two-step verification turned on")
    expect(events.nth(0)).to_contain_text("127.0.0.1")
    tab.shot("signed-in-with-a-code")
    tab.sign_out()

    tab.sign_in("alice")
    tab.enter_code(codes[0])
    expect(page).to_have_url(tab.base + "/site/security/")
    expect(page.get_by_role("status").first).to_have_text(
        "You signed in with a backup code. That code cannot be used again."
    )
    expect(page.locator("#mfa-state")).to_contain_text("9 backup codes left.")
    expect(page.locator("#events li").nth(0)).to_contain_text("Signed in with a backup code — ")
    expect(page.locator("#events li").nth(0)).to_contain_text("9 backup codes left")
    tab.shot("signed-in-with-a-backup-code")
    tab.sign_out()

    tab.sign_in("alice")
    tab.enter_code(codes[0])
    expect(page.locator("#code-error")).to_have_text(
        "The code is not valid. Each backup code works once: check it, or use another one."
    )
    expect(page.get_by_label("Code from your app, or a backup code")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page).to_have_url(tab.base + "/site/signin/")
    tab.shot("reused-backup-code-refused")

    # The challenge survives a wrong code: another backup code still signs in.
    tab.enter_code(codes[1].upper())
    expect(page).to_have_url(tab.base + "/site/security/")
    expect(page.locator("#mfa-state")).to_contain_text("8 backup codes left.")


def test_regenerate_backup_codes_and_turn_mfa_off(tabs):
    tab = tabs("2-manage")
    page = tab.page
    tab.sign_in("bob")
    tab.expect_security_page()
    page.get_by_role("button", name="Set up two-step verification").click()
    app = authenticator(page)
    page.get_by_label("Enter the 6-digit code the app shows").fill(app.now())
    page.get_by_role("button", name="Turn on").click()
    old_codes = backup_codes_shown(page)
    page.get_by_role("button", name="I have saved them").click()
    tab.sign_in("bob")  # with a backup code: the app's next code is kept for what follows
    tab.enter_code(old_codes[1])
    expect(page.locator("#mfa-state")).to_contain_text("9 backup codes left.")
    tab.shot("mfa-on")

    page.get_by_label("Current code from your app", exact=True).fill(next_code(app))
    page.get_by_role("button", name="Regenerate codes").click()
    expect(page.get_by_role("status").first).to_have_text(
        "New backup codes made: the old ones no longer work."
    )
    new_codes = backup_codes_shown(page)
    assert not set(new_codes) & set(old_codes)
    tab.shot("new-backup-codes")
    page.get_by_role("button", name="I have saved them").click()

    turn_off_code = page.get_by_label("Current code from your app, or a backup code")
    turn_off_code.fill(old_codes[0])
    page.get_by_role("button", name="Turn off MFA").click()
    expect(page.locator("#disable-error")).to_have_text("The code is not valid.")
    tab.shot("turn-off-refuses-an-old-backup-code")

    turn_off_code.fill(new_codes[0])
    page.get_by_role("button", name="Turn off MFA").click()
    # The sign-in that used the removed factor ends with it.
    expect(page).to_have_url(tab.base + "/site/signin/")
    expect(page.get_by_role("status")).to_have_text(
        "Two-step verification is off and your backup codes no longer work. "
        "Sign in with your password."
    )
    tab.shot("mfa-off")

    tab.sign_in("bob")  # the password alone again
    tab.expect_security_page()
    expect(page.locator("#mfa-state")).to_have_text("Off: your password alone signs you in.")
    expect(page.get_by_role("button", name="Set up two-step verification")).to_be_visible()


def test_a_spent_challenge_and_too_many_wrong_codes_are_said_in_words(tabs, site):
    app = enroll_by_api(site, "carol")
    first, second = tabs("3-errors"), tabs("3-errors")

    # Two sign-ins wait for a code; the second one redeems first, which spends both
    # challenges (they carry the same epoch of the secret).
    first.sign_in("carol")
    first.expect_code_step()
    second.sign_in("carol")
    second.expect_code_step()
    second.enter_code(next_code(app))
    second.expect_security_page()

    page = first.page
    page.bring_to_front()
    first.enter_code(a_wrong_code(app))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#password-error")).to_have_text(
        "This login challenge has been used already; log in with your password again."
    )
    expect(page.get_by_label("Username")).to_have_value("carol")
    first.shot("challenge-used-back-to-password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    first.expect_code_step()
    error = page.locator("#code-error")
    for _attempt in range(6):  # a growing delay starts after a few wrong codes in a row
        first.enter_code(a_wrong_code(app))
        expect(error).not_to_be_empty()
        if "Too many" in error.inner_text():
            break
        expect(error).to_have_text(
            "The code is not valid. Check the code your app shows now and try again."
        )
    expect(error).to_have_text(
        re.compile(
            r"^Too many failed attempts; try again later\. You can try again in \d+ seconds?\.$"
        )
    )
    first.shot("too-many-failures")


def test_an_api_key_is_shown_once_calls_the_sites_api_and_is_revoked(tabs, site):
    tab = tabs("4-keys")
    page = tab.page
    tab.sign_in("dave")
    tab.expect_security_page()
    page.get_by_label("What it is for").fill("backup job")
    page.get_by_label("Expires").select_option(label="in 90 days")
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_text("Copy this key now: it is shown only this once.")).to_be_visible()
    key = page.locator("#new-key").inner_text()
    assert re.fullmatch(r"mfak_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}", key), key
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == key
    tab.shot("new-key-shown-once")

    # The site's own API takes the key; the app's endpoints never do (they do not even
    # look at the scheme: the key is no credential there).
    status, me = get(site, "/api/me", f"apikey {key}")
    assert (status, me["username"], me["authenticated_by"]) == (200, "dave", "apikey")
    status, body = get(site, "/users/me/secrets", f"apikey {key}")
    assert (status, body["code"]) == (401, "not_authenticated")

    page.get_by_role("button", name="I have saved it").click()
    expect(page.locator("#new-key-panel")).to_be_hidden()
    listed = page.locator("#keys li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("backup job")
    expect(listed).to_contain_text(f"mfak_{key.split('_')[1]}_…")
    page.reload()
    expect(page.locator("#keys li")).to_have_count(1)
    expect(listed).to_contain_text("last used")  # by the call to /api/me above
    assert key.split("_", 2)[2] not in page.content()  # never shown again
    tab.shot("key-listed-by-prefix")

    page.get_by_role("button", name=re.compile(r"^Revoke backup job")).click()
    expect(page.locator("#keys li")).to_have_count(0)
    expect(page.get_by_role("status").first).to_have_text("Revoked backup job: it no longer works.")
    status, body = get(site, "/api/me", f"apikey {key}")
    assert (status, body["code"]) == (401, "api_key_invalid")
    tab.shot("key-revoked")


def test_a_password_change_asks_for_a_code_and_ends_every_sign_in(tabs, site, mailbox):
    app, codes = enroll_with_codes(site, "erin")
    # Another sign-in of erin's, elsewhere: it ends with the change too.
    challenge = api(site, "POST", "/auth/password", {"username": "erin", "password": PASSWORD})
    elsewhere = api(site, "POST", "/auth/totp", {"backup_code": codes[2]}, challenge["token"])
    assert get(site, "/users/me/secrets", f"jwt {elsewhere['token']}")[0] == 200

    tab = tabs("5-password")
    page = tab.page
    tab.sign_in("erin")
    tab.enter_code(next_code(app))
    tab.expect_security_page()
    code_field = page.get_by_label("Your current code (from the app, or a backup code)")
    expect(code_field).to_be_visible()  # MFA is on: the change takes a code

    page.get_by_label("New password").fill("12345678")
    code_field.fill(codes[0])
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#new-password-error")).to_have_text(
        "Choose another password: this one does not meet the site's rules."
    )
    problems = page.locator("#new-password-problems li")
    expect(problems).to_have_count(2)
    expect(problems.first).to_have_text("This password is too common.")
    expect(problems.last).to_have_text("This password is entirely numeric.")
    tab.shot("weak-password-refused")

    new_password = "a brand new passphrase 7"
    page.get_by_label("New password").fill(new_password)
    code_field.fill(codes[0])  # the refused password spent no code
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(tab.base + "/site/signin/")
    expect(page.get_by_role("status")).to_have_text(
        "Your password is changed and you are signed out everywhere: sign in with the new one."
    )
    status, body = get(site, "/users/me/secrets", f"jwt {elsewhere['token']}")
    assert (status, body["code"]) == (401, "password_changed")
    tab.shot("signed-out-everywhere")

    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Sign in").click()
    tab.expect_code_step()
    tab.enter_code(codes[1])
    tab.expect_security_page()
    # Newest first: this sign-in, then the change.
    expect(page.locator("#events li").nth(1)).to_contain_text("Password changed")

    to_erin = [m for m in mails(mailbox) if "To: erin@example.org" in m]
    [sent] = [m for m in to_erin if "Subject: Security notice: Password changed" in m]
    assert "The password of your account was changed" in sent
    assert new_password not in sent


def test_a_required_user_signs_in_sets_mfa_up_and_is_in(browser, required_site):
    """MFA_REQUIRED=all: sign-in leads to the Security page, enrolling signs the user in."""
    base = required_site[0]
    context = browser.new_context()
    tab = Tab(context, base, "6-required", [0])
    page = tab.page
    tab.sign_in("alice")
    tab.expect_security_page()
    expect(page.get_by_role("status").first).to_have_text(
        "You are signed in to set up two-step verification, and only for that."
    )
    expect(page.locator("#mfa-state")).to_have_text(
        "This site requires two-step verification for your account: set it up to go on."
    )
    for section in ("#keys-section", "#password-section", "#events-section"):
        expect(page.locator(section)).to_be_hidden()  # the SETUP sign-in reaches no more
    tab.shot("setup-required")

    page.get_by_role("button", name="Set up two-step verification").click()
    app = authenticator(page)
    page.get_by_label("Enter the 6-digit code the app shows").fill(app.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status").first).to_have_text("Two-step verification is on.")
    backup_codes_shown(page)
    tab.shot("setup-done-codes")
    page.get_by_role("button", name="I have saved them").click()

    # Signed in with the new factor, without signing in again: the whole page is there.
    tab.expect_security_page()
    expect(page.get_by_role("status").first).to_have_text(
        "Two-step verification is on, and you are signed in."
    )
    expect(page.locator("#mfa-state")).to_contain_text("10 backup codes left.")
    expect(page.locator("#events-section")).to_be_visible()
    expect(page.locator("#events li").first).to_contain_text("Two-step verification turned on")
    expect(page.locator("#keys-section")).to_be_visible()
    tab.shot("signed-in-with-mfa")

    # And from now on, sign-in asks for the code.
    tab.sign_out()
    tab.sign_in("alice")
    tab.expect_code_step()
    tab.enter_code(next_code(app))
    tab.expect_security_page()
    context.close()
    assert tab.script_errors == [] and tab.elsewhere == []


def test_a_trusted_browser_signs_in_with_the_password_until_revoked(tabs, site):
    app = enroll_by_api(site, "frank")
    tab = tabs("7-trusted")
    page = tab.page
    tab.sign_in("frank")
    tab.expect_code_step()
    page.get_by_label("Trust this browser for 30 days").check()
    tab.enter_code(next_code(app))
    tab.expect_security_page()
    expect(page.get_by_role("status").first).to_have_text(
        "This browser is trusted: next time your password is enough."
    )
    listed = page.locator("#devices li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Chrome on Linux")
    tab.shot("browser-trusted")

    tab.sign_out()
    tab.sign_in("frank")  # the password alone: no code step
    tab.expect_security_page()
    expect(page.get_by_role("status").first).to_have_text(
        "Signed in on a trusted browser: no code needed."
    )
    tab.shot("signed-in-without-a-code")

    page.get_by_role("button", name=re.compile(r"^Revoke Chrome on Linux")).click()
    expect(page.locator("#devices-section")).to_be_hidden()
    tab.sign_out()
    tab.sign_in("frank")
    tab.expect_code_step()  # revoked: a code again
