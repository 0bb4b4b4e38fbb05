"""The module's C# shim at run time: compiled as build.sh compiles bin/MSCommerce.Native.dll (C# 5, no
library path inside), told at run time which library to open (NativeMethods.Load), run by Mono
against the native library (target/release/libmscommerce.so) and the emulator (`mscommerce
emulator`): loading from a path chosen at run time (a folder with spaces and non-ASCII characters),
sign-in, listings, a non-ASCII round trip, updates, every error kind the emulator can provoke with
its code and correlation id, and 8 threads on one session. Where PowerShell is found ($PWSH or pwsh
on PATH), the module itself imports with the precompiled assembly and, without it, compiles the
source with Add-Type.

Skipped (with the reason) when Mono, the library or the emulator binary is missing."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import emulator as emu
import shim
from conftest import HERE, MODULE_DIR

NOT_CONNECTED_MESSAGE = "You must call the Connect-MSCommerce cmdlet before calling any other cmdlets"
POLICY = "AllowSelfServicePurchase"
APP_CLIENT_ID = "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01"
APP_SECRET = "emulator-app-secret"
TENANT = "contoso.onmicrosoft.com"
SEED_PRODUCTS = {
    "CFQ7TTC0KP0P": "Power Apps per user",
    "CFQ7TTC0KP0N": "Power Automate per user",
    "CFQ7TTC0KXG6": "Power Automate RPA",
    "CFQ7TTC0KXG7": "Power BI Premium (standalone)",
    "CFQ7TTC0L3PB": "Power BI Pro",
    "CFQ7TTC0KXND": "Project Plan 1",
    "CFQ7TTC0KXNC": "Project Plan 3",
    "CFQ7TTC0KXN9": "Visio Plan 1",
    "CFQ7TTC0KXN8": "Visio Plan 2",
    "CFQ7TTC0HHS9": "Windows 365 Enterprise",
    "CFQ7TTC0J203": "Windows 365 Business",
    "CFQ7TTC0HX99": "Windows 365 Business with Windows Hybrid Benefit",
}
GUID_IN_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
GUID = re.compile(rf"^{GUID_IN_TEXT.pattern}$")


def _skip_reason() -> str | None:
    if not shim.have_mono():
        return "Mono (mcs, mono) not installed: run .ci/install-powershell-deps.sh"
    return emu.library_problem() or emu.binary_problem()


SKIP_REASON = _skip_reason()
LIBRARY = str(emu.library_path().resolve())
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=f"Mono runtime test not run: {SKIP_REASON}")


class Driver:
    """A mono process running tests/powershell/mono/ShimDriver.cs over the compiled shim."""

    def __init__(self, executable, env: dict | None = None, library: str | None = None):
        """Starts the driver; with `library`, loads it first (NativeMethods.Load), as the module does at import."""
        environment = dict(os.environ)
        environment.update(env or {})
        self.process = subprocess.Popen(["mono", "--debug", str(executable)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8", env=environment)
        if library is not None:
            assert self.load(library) == library

    def load(self, library: str) -> str:
        """NativeMethods.Load(library): the path in use afterwards."""
        _, loaded = self.send("load", b64e(library))
        return b64d(loaded)

    def loaded(self) -> tuple[str, bool]:
        _, path, is_loaded = self.send("loaded")
        return b64d(path), is_loaded == "True"

    def mapped_files(self) -> set[str]:
        """The files mapped into the Mono process (Linux /proc/<pid>/maps)."""
        maps = Path(f"/proc/{self.process.pid}/maps").read_bytes().decode("utf-8", "surrogateescape")
        return {line.split(None, 5)[5] for line in maps.splitlines() if len(line.split(None, 5)) == 6}

    def send(self, *fields: str) -> list[str]:
        self.process.stdin.write("\t".join(fields) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the Mono driver died: {self.process.stderr.read()}")
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "EXC":
            raise DriverException(b64d(parts[1]))
        return parts

    def call(self, operation: str, request) -> tuple[int, dict]:
        payload = request if isinstance(request, str) else json.dumps(request, ensure_ascii=False)
        code, answer = self.send(operation, b64e(payload))
        return int(code), json.loads(b64d(answer))

    def new(self, options: dict) -> tuple[int, dict]:
        return self.call("new", options)

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)


class DriverException(Exception):
    pass


def b64e(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def b64d(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")


@pytest.fixture(scope="module")
def driver_exe(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mono-runtime")
    shim_dll = shim.compile_shim(directory)
    exe = directory / "ShimDriver.exe"
    result = shim.mcs([HERE / "mono" / "ShimDriver.cs"], exe, target="exe", references=[shim_dll])
    assert result.returncode == 0, result.stdout + result.stderr
    return exe


@pytest.fixture(scope="module")
def emulator():
    server = emu.Emulator()
    yield server
    server.stop()


@pytest.fixture()
def fresh(emulator):
    emulator.reset()
    return emulator


@pytest.fixture()
def open_driver(driver_exe):
    drivers = []

    def make(options: dict | None = None, env: dict | None = None, library: str | None = LIBRARY) -> Driver:
        driver = Driver(driver_exe, env, library)
        drivers.append(driver)
        if options is not None:
            code, answer = driver.new(options)
            assert code == 0, answer
        return driver

    yield make
    for driver in drivers:
        driver.close()


def options_for(server, **extra) -> dict:
    options = {"serviceUrl": server.url, "authorityHost": server.url, "maxRetries": 1}
    options.update(extra)
    return options


def connected(server, open_driver, user: str = "admin", **options) -> "Driver":
    """A driver whose session is signed in with an access token of an emulator user."""
    driver = open_driver(options_for(server, **options))
    code, answer = driver.call("connect", {"flow": "accessToken", "accessToken": server.token(user)})
    assert code == 0, answer
    return driver


def assert_error(code: int, answer: dict, expected_code: int, expected_name: str, status: int | None = None):
    assert code == expected_code, answer
    assert "value" not in answer
    error = answer["error"]
    assert error["code"] == expected_name, error
    assert error["message"], error
    assert isinstance(answer.get("log", []), list)
    if status is not None:
        assert error.get("httpStatus") == status, error
        assert GUID.match(error.get("correlationId", "")), f"no correlation id: {error}"
    return error


# ---------------------------------------------------------------------------------------------

def test_version_and_abi(open_driver):
    driver = open_driver()
    _, version, abi = driver.send("version")
    assert re.fullmatch(r"\d+\.\d+\.\d+", b64d(version))
    assert abi == "1"


# ---------------------------------------------------------------------------------------------
# Loading: the assembly holds no path; NativeMethods.Load opens the library chosen at run time.
# ---------------------------------------------------------------------------------------------

ODD_FOLDER = "MSCommerce dir with spaces – Ünïcødé ✓ 模块"


@pytest.fixture(scope="module")
def odd_library(tmp_path_factory):
    """A copy of the library in a folder whose name has spaces and non-ASCII characters."""
    folder = tmp_path_factory.mktemp("odd") / ODD_FOLDER
    folder.mkdir()
    copy = folder / "libmscommerce.so"
    shutil.copyfile(LIBRARY, copy)
    return str(copy)


def test_loads_the_library_from_a_path_chosen_at_run_time(odd_library, fresh, open_driver):
    driver = open_driver(library=None)
    assert driver.loaded() == ("", False)
    assert odd_library not in driver.mapped_files()
    assert driver.load(odd_library) == odd_library
    assert driver.loaded() == (odd_library, True)
    mapped = driver.mapped_files()
    assert odd_library in mapped, "the copy in the odd folder is the library mapped into the process"
    assert LIBRARY not in mapped, "and not the original"
    _, version, abi = driver.send("version")
    assert abi == "1" and re.fullmatch(r"\d+\.\d+\.\d+", b64d(version))
    code, answer = driver.new(options_for(fresh))
    assert code == 0, answer
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY, "accessToken": fresh.token()})
    assert code == 0 and len(answer["value"]) == 12, answer


def test_load_is_once_per_process(odd_library, open_driver):
    """Loading again with the same path is a no-op; with another path it loads nothing and answers
    the path in use (the module warns then)."""
    driver = open_driver(library=None)
    assert driver.load(LIBRARY) == LIBRARY
    assert driver.load(LIBRARY) == LIBRARY
    assert driver.load(odd_library) == LIBRARY
    assert odd_library not in driver.mapped_files()
    assert driver.loaded() == (LIBRARY, True)


def test_calls_before_load_are_refused(open_driver):
    driver = open_driver(library=None)
    with pytest.raises(DriverException, match="InvalidOperationException: MSCommerce: the native library is not loaded"):
        driver.send("version")
    with pytest.raises(DriverException, match="InvalidOperationException"):
        driver.new({})


def test_load_failures_name_the_path_and_leave_nothing_loaded(tmp_path, open_driver):
    driver = open_driver(library=None)
    missing = str(tmp_path / "nowhere ✓" / "libmscommerce.so")
    with pytest.raises(DriverException, match=r"DllNotFoundException: MSCommerce: could not load the native library '.*nowhere ✓/libmscommerce\.so': .*No such file"):
        driver.load(missing)
    with pytest.raises(DriverException, match="ArgumentException: MSCommerce: the native library's path must be absolute"):
        driver.load("libmscommerce.so")
    not_ours = tmp_path / "libnotours.so"
    shutil.copyfile(Path(_a_loaded_shared_library()), not_ours)
    with pytest.raises(DriverException, match="EntryPointNotFoundException: .* does not export msc_"):
        driver.load(str(not_ours))
    assert driver.loaded() == ("", False)
    assert str(not_ours) not in driver.mapped_files(), "a library without the exports is closed again"
    assert driver.load(LIBRARY) == LIBRARY, "a failed load does not stick"
    _, _, abi = driver.send("version")
    assert abi == "1"


def _a_loaded_shared_library() -> str:
    """An absolute path of some shared library that is not ours (libz, libm, ...): one of this
    Python process's own."""
    for line in Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and re.search(r"/lib(z|m|ffi|expat|bz2)\.so[.\d]*$", parts[5]):
            return parts[5]
    pytest.skip("no libz/libm/libffi mapped into this Python process")


def test_session_new_rejects_bad_options(open_driver):
    driver = open_driver()
    code, answer = driver.new({"serviceUrl": "http://licensing.example.com"})
    assert_error(code, answer, 1, "InvalidArgument")
    code, answer = driver.call("new", "{not json")
    assert_error(code, answer, 1, "InvalidArgument")
    with pytest.raises(DriverException, match="NullReferenceException|ObjectDisposed"):
        driver.call("get", {"resource": "policies"})


def test_not_connected(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    error = assert_error(code, answer, 2, "NotConnected")
    assert NOT_CONNECTED_MESSAGE in error["message"]
    assert fresh.stats()["requests"] == 0, "nothing was sent"


def test_connect_with_access_token_and_list(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    token = fresh.token("admin")
    code, answer = driver.call("connect", {"flow": "accessToken", "accessToken": token})
    assert code == 0, answer
    connection = answer["value"]
    assert connection["Account"] == "admin@contoso.onmicrosoft.com"
    assert connection["Flow"] in ("accessToken", "AccessToken")
    assert token not in json.dumps(answer)

    code, answer = driver.call("get", {"resource": "connection"})
    assert code == 0, answer
    assert answer["value"]["Account"] == "admin@contoso.onmicrosoft.com"
    assert token not in json.dumps(answer)

    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0, answer
    products = answer["value"]
    assert {p["ProductId"]: p["ProductName"] for p in products} == SEED_PRODUCTS
    for product in products:
        assert set(product) >= {"PolicyId", "ProductName", "ProductId", "PolicyValue"}
        assert product["PolicyId"] == POLICY and product["PolicyValue"] == "Enabled"
    assert any(GUID_IN_TEXT.search(line) for line in answer["log"]), f"log lines carry correlation ids: {answer['log']}"
    assert not any(token in line for line in answer["log"])

    code, answer = driver.call("get", {"resource": "policies"})
    assert code == 0, answer
    assert [p["PolicyId"] for p in answer["value"]] == [POLICY]
    assert set(answer["value"][0]) >= {"PolicyId", "Description", "DefaultValue"}

    code, answer = driver.call("get", {"resource": "policy", "policyId": POLICY})
    assert code == 0 and answer["value"]["PolicyId"] == POLICY


def test_per_call_token_without_connect(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": "CFQ7TTC0KP0N",
                                       "accessToken": fresh.token("reader")})
    assert code == 0, answer
    assert answer["value"]["ProductName"] == "Power Automate per user"


def test_non_ascii_product_name_round_trips_byte_exact(fresh, open_driver):
    name = "Ünïcødé Prøduct — 製品 ✓ 𝔘𝔫𝔦 \u00a0tab\there \"quoted\" \\ back"
    fresh.upsert_product("CFQ7TTC0KP0N", name)
    driver = connected(fresh, open_driver)
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0, answer
    got = [p["ProductName"] for p in answer["value"] if p["ProductId"] == "CFQ7TTC0KP0N"]
    assert got == [name]
    assert got[0].encode("utf-8") == name.encode("utf-8")
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": "CFQ7TTC0KP0N"})
    assert code == 0 and answer["value"]["ProductName"] == name


def test_non_ascii_input_reaches_the_library_intact(fresh, open_driver):
    """A request with non-ASCII text goes in as UTF-8: the library's validation error quotes it."""
    driver = open_driver(options_for(fresh))
    bad_id = "Prödukt-✓"
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": bad_id,
                                       "accessToken": fresh.token()})
    error = assert_error(code, answer, 1, "InvalidArgument")
    assert bad_id in error["message"], error


def test_update(fresh, open_driver):
    driver = connected(fresh, open_driver, user="billing")
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "value": "Disabled"})
    assert code == 0, answer
    assert answer["value"]["PolicyValue"] == "Disabled" and answer["value"]["ProductId"] == "CFQ7TTC0KP0N"
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": "CFQ7TTC0KP0N"})
    assert answer["value"]["PolicyValue"] == "Disabled"
    assert fresh.stats()["updates"] == 1
    for enabled, expected in (("true", "Enabled"), ("FALSE", "Disabled"), (True, "Enabled"), (False, "Disabled"), ("True", "Enabled")):
        code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KXG6", "enabled": enabled})
        assert code == 0, (enabled, answer)
        assert answer["value"]["PolicyValue"] == expected, enabled
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KXG6", "enabled": "maybe"})
    assert_error(code, answer, 1, "InvalidArgument")
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KXG6", "value": "Sometimes"})
    assert_error(code, answer, 1, "InvalidArgument")


def test_invalid_id_is_refused_before_any_request(fresh, open_driver):
    driver = connected(fresh, open_driver)
    before = fresh.stats()["requests"]
    for bad in ("../policies", "a/b", "..", "x" * 129, "id?x=1"):
        code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": bad})
        assert_error(code, answer, 1, "InvalidArgument")
    assert fresh.stats()["requests"] == before


def test_reader_may_read_but_not_update(fresh, open_driver):
    driver = connected(fresh, open_driver, user="reader")
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0, answer
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "value": "Disabled"})
    error = assert_error(code, answer, 4, "Forbidden", status=403)
    assert error["correlationId"] in "\n".join(answer["log"]), "the verbose log names the correlation id"
    assert fresh.stats()["updates"] == 0


def test_unknown_product_is_not_found(fresh, open_driver):
    driver = connected(fresh, open_driver)
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": "CFQ7TTC0NOPE"})
    assert_error(code, answer, 5, "NotFound", status=404)
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0NOPE", "value": "Disabled"})
    assert_error(code, answer, 5, "NotFound", status=404)


def test_throttled_after_retries(fresh, open_driver):
    driver = connected(fresh, open_driver, maxRetries=1)
    fresh.faults(throttle=5, retryAfterSeconds=1)
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    error = assert_error(code, answer, 6, "Throttled", status=429)
    assert error.get("retryAfterSeconds") == 1, error
    assert fresh.stats()["requests"] == 2, "one try and one retry"


def test_throttling_cured_by_a_retry(fresh, open_driver):
    driver = connected(fresh, open_driver, maxRetries=2)
    fresh.faults(throttle=1, retryAfterSeconds=1)
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0, answer
    assert len(answer["value"]) == 12


def test_server_error_after_retries(fresh, open_driver):
    driver = connected(fresh, open_driver, maxRetries=1)
    fresh.faults(serverErrors=5, serverErrorStatus=503)
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert_error(code, answer, 7, "Service", status=503)


def test_dead_port_is_a_network_error(fresh, open_driver):
    port = emu.free_port()
    driver = open_driver({"serviceUrl": f"http://127.0.0.1:{port}", "maxRetries": 0, "timeoutSeconds": 10})
    code, answer = driver.call("get", {"resource": "policies", "accessToken": fresh.token()})
    assert_error(code, answer, 8, "Network")


def test_dropped_connections_are_network_errors(fresh, open_driver):
    driver = open_driver(options_for(fresh, maxRetries=0))
    fresh.faults(drop=3)
    code, answer = driver.call("get", {"resource": "policies", "accessToken": fresh.token()})
    assert code in (8, 7), answer
    assert answer["error"]["code"] in ("Network", "Service")


def test_disconnect(fresh, open_driver):
    driver = connected(fresh, open_driver)
    assert driver.send("disconnect") == ["0"]
    code, answer = driver.call("get", {"resource": "policies"})
    assert_error(code, answer, 2, "NotConnected")


def test_freed_session_refuses_calls(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    assert driver.send("free") == ["0"]
    assert driver.send("free") == ["0"], "Dispose is idempotent"
    with pytest.raises(DriverException, match="ObjectDisposedException"):
        driver.call("get", {"resource": "policies", "accessToken": fresh.token()})


def test_eight_threads_on_one_session(fresh, open_driver):
    driver = connected(fresh, open_driver)
    fresh.reset()
    request = json.dumps({"resource": "productPolicies", "policyId": POLICY})
    parts = driver.send("threads", "8", "5", "get", b64e(request))
    codes = [int(c) for c in parts[1].split(",")]
    answers = [json.loads(b64d(a)) for a in parts[2].split(",")]
    assert codes == [0] * 40
    values = {json.dumps(a["value"], sort_keys=True) for a in answers}
    assert len(values) == 1
    assert len(answers[0]["value"]) == 12
    assert fresh.stats()["requests"] == 40

    # Updates and reads at once.
    update = json.dumps({"policyId": POLICY, "productId": "CFQ7TTC0L3PB", "value": "Disabled"})
    parts = driver.send("threads", "8", "2", "update", b64e(update))
    assert [int(c) for c in parts[1].split(",")] == [0] * 16
    code, answer = driver.call("get", {"resource": "productPolicy", "policyId": POLICY, "productId": "CFQ7TTC0L3PB"})
    assert answer["value"]["PolicyValue"] == "Disabled"


# ---------------------------------------------------------------------------------------------
# Client secret: the identity side runs over TLS (azure_identity wants https authorities).
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    help_text = subprocess.run([str(emu.binary_path()), "emulator", "--help"], capture_output=True, text=True).stdout
    if "--tls" not in help_text or "--ca-out" not in help_text:
        pytest.skip("the emulator has no --tls/--ca-out yet: client-secret sign-in not tested")
    ca = tmp_path_factory.mktemp("tls") / "emulator-ca.pem"
    server = emu.Emulator(tls=True, ca_out=ca)
    yield server
    server.stop()


def test_connect_with_client_secret_over_tls(tls_emulator, open_driver):
    tls_emulator.reset()
    driver = open_driver(options_for(tls_emulator, caCertificatePath=str(tls_emulator.ca_path)))
    code, answer = driver.call("connect", {"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_CLIENT_ID,
                                           "clientSecret": APP_SECRET})
    assert code == 0, answer
    assert answer["value"]["ClientId"] == APP_CLIENT_ID
    assert APP_SECRET not in json.dumps(answer)
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0, answer
    assert len(answer["value"]) == 12
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "enabled": False})
    assert code == 0, answer
    assert answer["value"]["PolicyValue"] == "Disabled"


def test_wrong_client_secret_is_an_authentication_error(tls_emulator, open_driver):
    driver = open_driver(options_for(tls_emulator, caCertificatePath=str(tls_emulator.ca_path)))
    code, answer = driver.call("connect", {"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_CLIENT_ID,
                                           "clientSecret": "wrong-secret"})
    error = assert_error(code, answer, 3, "Authentication")
    assert "wrong-secret" not in json.dumps(answer)
    assert error["message"]


def test_tls_without_trusting_the_ca_is_a_network_error(tls_emulator, open_driver):
    driver = open_driver({"serviceUrl": tls_emulator.url, "maxRetries": 0})
    code, answer = driver.call("get", {"resource": "policies", "accessToken": tls_emulator.token()})
    assert_error(code, answer, 8, "Network")



# ---------------------------------------------------------------------------------------------
# Sign-in in steps (device code, browser) and the other flows, as Connect-MSCommerce drives them:
# `start`, show the prompt, then `poll` with short sleeps while the answer is Pending (10).
# ---------------------------------------------------------------------------------------------

def poll_until_done(driver: Driver, request: dict, seconds: float = 60) -> tuple[int, dict]:
    poll = dict(request, step="poll")
    deadline = time.monotonic() + seconds
    while True:
        code, answer = driver.call("connect", poll)
        if code != 10 or time.monotonic() > deadline:
            return code, answer
        assert answer["error"]["code"] == "Pending", answer
        time.sleep(0.3)


def test_device_code_sign_in(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    request = {"flow": "deviceCode", "tenantId": TENANT}
    code, answer = driver.call("connect", dict(request, step="start"))
    assert code == 0, answer
    prompt = answer["value"]
    assert set(prompt) >= {"Message", "UserCode", "VerificationUri", "ExpiresOn"}, prompt
    assert prompt["UserCode"] in prompt["Message"] and prompt["VerificationUri"] in prompt["Message"]
    code, answer = driver.call("connect", dict(request, step="poll"))
    assert code == 10 and answer["error"]["code"] == "Pending", answer
    fresh.control("POST", "/_emulator/device/approve", {"userCode": prompt["UserCode"], "user": "billing"})
    code, answer = poll_until_done(driver, request)
    assert code == 0, answer
    assert answer["value"]["Account"] == "billing@contoso.onmicrosoft.com"
    code, answer = driver.call("get", {"resource": "productPolicies", "policyId": POLICY})
    assert code == 0 and len(answer["value"]) == 12


def test_device_code_declined(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    request = {"flow": "deviceCode", "tenantId": TENANT}
    code, answer = driver.call("connect", dict(request, step="start"))
    assert code == 0, answer
    fresh.control("POST", "/_emulator/device/decline", {"userCode": answer["value"]["UserCode"]})
    code, answer = poll_until_done(driver, request)
    assert_error(code, answer, 3, "Authentication")


def test_browser_sign_in(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    request = {"flow": "interactive", "tenantId": TENANT, "loginHint": "admin@contoso.onmicrosoft.com"}
    code, answer = driver.call("connect", dict(request, step="start"))
    assert code == 0, answer
    prompt = answer["value"]
    assert set(prompt) >= {"AuthorizeUrl", "RedirectUri"}, prompt
    assert prompt["AuthorizeUrl"].startswith(fresh.url + "/")
    assert re.match(r"^http://(localhost|127\.0\.0\.1):\d+/m365/commerce$", prompt["RedirectUri"]), prompt
    code, answer = driver.call("connect", dict(request, step="poll"))
    assert code == 10, answer
    # The user signs in in the browser: the emulator's browser session, then the authorize URL
    # redirects to the library's loopback listener with the code.
    fresh.control("POST", "/_emulator/browser", {"user": "admin"})
    with urllib.request.urlopen(prompt["AuthorizeUrl"], timeout=30) as response:
        response.read()
    code, answer = poll_until_done(driver, request)
    assert code == 0, answer
    assert answer["value"]["Account"] == "admin@contoso.onmicrosoft.com"
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "enabled": "false"})
    assert code == 0 and answer["value"]["PolicyValue"] == "Disabled"


def test_poll_without_start_is_invalid(fresh, open_driver):
    driver = open_driver(options_for(fresh))
    code, answer = driver.call("connect", {"flow": "deviceCode", "step": "poll"})
    assert_error(code, answer, 1, "InvalidArgument")


def test_managed_identity(fresh, open_driver):
    env = {"IDENTITY_ENDPOINT": fresh.url + "/msi/token", "IDENTITY_HEADER": "emulator-identity-header"}
    driver = open_driver(options_for(fresh), env=env)
    code, answer = driver.call("connect", {"flow": "managedIdentity"})
    assert code == 0, answer
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "value": "Disabled"})
    assert code == 0, answer
    # The user-assigned identity is a Global reader.
    code, answer = driver.call("connect", {"flow": "managedIdentity", "clientId": "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a21"})
    assert code == 0, answer
    code, answer = driver.call("update", {"policyId": POLICY, "productId": "CFQ7TTC0KP0N", "value": "Enabled"})
    assert_error(code, answer, 4, "Forbidden", status=403)


@pytest.mark.parametrize("form", ["pfx", "pem"])
def test_certificate_file(tls_emulator, open_driver, tmp_path, form):
    material = tls_emulator.control("GET", "/_emulator/certificate")
    request = {"flow": "certificate", "tenantId": TENANT, "clientId": material["clientId"]}
    if form == "pfx":
        path = tmp_path / "app.pfx"
        path.write_bytes(base64.b64decode(material["pfxBase64"]))
        request["certificatePassword"] = material["pfxPassword"]
    else:
        path = tmp_path / "app.pem"
        path.write_text(material["pem"], encoding="utf-8")
    request["certificatePath"] = str(path)
    driver = open_driver(options_for(tls_emulator, caCertificatePath=str(tls_emulator.ca_path)))
    code, answer = driver.call("connect", request)
    assert code == 0, answer
    assert answer["value"]["ClientId"] == material["clientId"]
    assert material["pfxPassword"] not in json.dumps(answer)
    code, answer = driver.call("get", {"resource": "policies"})
    assert code == 0, answer


# ---------------------------------------------------------------------------------------------
# The module in PowerShell: the precompiled assembly (as build.sh makes it), else the Add-Type
# fallback of a source checkout. Runs where PowerShell is found: $PWSH, else pwsh on PATH.
# ---------------------------------------------------------------------------------------------

IMPORT_SCRIPT = r"""
param([string] $Manifest, [string] $Url, [string] $Token)
$ErrorActionPreference = 'Stop'
$VerbosePreference = 'Continue'
$verbose = @(Import-Module -Name $Manifest 4>&1 | ForEach-Object { [string]$_ })
$shimAfterImport = $null -ne ('MSCommerce.Native.NativeMethods' -as [type])
# The first native call loads the shim (and compiles it, in the fallback).
$firstCall = @(Connect-MSCommerce -AccessToken $Token -ServiceUrl $Url -AuthorityHost $Url 4>&1 6> $null | ForEach-Object { [string]$_ })
$VerbosePreference = 'SilentlyContinue'
$policies = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)
$type = [MSCommerce.Native.NativeMethods]
ConvertTo-Json -Compress -InputObject ([ordered]@{
    verbose  = $verbose
    firstCall = $firstCall
    shimAfterImport = $shimAfterImport
    count    = $policies.Count
    location = [string]$type.Assembly.Location
    library  = [string]$type::LibraryPath
})
"""


@pytest.fixture(scope="module")
def pwsh():
    path = os.environ.get("PWSH") or shutil.which("pwsh")
    if not path:
        pytest.skip("PowerShell not found ($PWSH or pwsh on PATH): the module's import with the precompiled shim is not run")
    return path


@pytest.mark.parametrize("precompiled", [True, False], ids=["precompiled-assembly", "add-type-fallback"])
def test_module_imports_the_shim_and_calls_the_library(pwsh, fresh, tmp_path, precompiled):
    module = tmp_path / "Modules" / "MSCommerce"
    shutil.copytree(MODULE_DIR, module, ignore=shutil.ignore_patterns("bin", "runtimes"))
    if precompiled:
        (module / "bin").mkdir()
        shim.compile_shim(module / "bin")
    script = tmp_path / "import.ps1"
    script.write_text(IMPORT_SCRIPT, encoding="utf-8")
    env = dict(os.environ, MSCOMMERCE_NATIVE_LIBRARY=LIBRARY)
    result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-File", str(script), str(module / "MSCommerce.psd1"),
                             fresh.url, fresh.token()], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["count"] == 12, answer
    assert answer["library"] == LIBRARY
    # The import loads no native code; the first call loads (or compiles) the shim.
    assert answer["shimAfterImport"] is False, answer
    assert [line for line in answer["verbose"] if "compiled the C# shim" in line] == [], answer["verbose"]
    compiled = [line for line in answer["firstCall"] if "compiled the C# shim" in line]
    if precompiled:
        assert answer["location"] == str(module / "bin" / shim.ASSEMBLY_NAME)
        assert compiled == [], answer["firstCall"]
    else:
        assert answer["location"] == "", "an in-memory (Add-Type) assembly"
        assert len(compiled) == 1 and str(module / "src" / "MSCommerce.Native.cs") in compiled[0], answer["firstCall"]
