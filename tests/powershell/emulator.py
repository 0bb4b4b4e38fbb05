"""The built native library and the `mscommerce emulator` process, for the runtime tests.

The library and binary come from `cargo build --release` (target/release, or $CARGO_TARGET_DIR);
$MSCOMMERCE_TEST_LIBRARY and $MSCOMMERCE_TEST_BIN override them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

from conftest import REPO


def release_dir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "release"


def library_path() -> Path:
    return Path(os.environ.get("MSCOMMERCE_TEST_LIBRARY") or release_dir() / "libmscommerce.so")


def binary_path() -> Path:
    return Path(os.environ.get("MSCOMMERCE_TEST_BIN") or release_dir() / "mscommerce")


def library_problem() -> str | None:
    """Why the native library cannot be used, or None."""
    library = library_path()
    if not library.is_file():
        return f"native library not built: {library} is missing (cargo build --release)"
    if shutil.which("nm"):
        symbols = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True).stdout
        missing = [s for s in ("msc_session_new", "msc_get", "msc_update", "msc_connect", "msc_string_free") if not re.search(rf"\b{s}\b", symbols)]
        if missing:
            return f"{library} does not export {', '.join(missing)} yet"
    return None


def binary_problem() -> str | None:
    binary = binary_path()
    if not binary.is_file():
        return f"emulator binary not built: {binary} is missing (cargo build --release)"
    return None


class Emulator:
    """`mscommerce emulator --port 0 [--tls --ca-out FILE]`; its first stdout line is
    'Emulator listening on <url>'."""

    def __init__(self, tls: bool = False, ca_out: Path | None = None, extra: list[str] = ()):
        command = [str(binary_path()), "emulator", "--port", "0"]
        if tls:
            command += ["--tls", "--ca-out", str(ca_out)]
        command += list(extra)
        self.ca_path = ca_out
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = {}

        def read_first_line():
            first["line"] = self.process.stdout.readline()

        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(30)
        line = first.get("line", "")
        match = re.match(r"Emulator listening on (\S+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r} {self.process.stderr.read() if self.process.poll() is not None else ''}")
        self.url = match.group(1).rstrip("/")
        # Keep draining stdout so the emulator never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        context = None
        if self.url.startswith("https://"):
            import ssl

            context = ssl.create_default_context(cafile=str(self.ca_path))
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read().decode("utf-8"))

    def token(self, user: str = "admin", lifetime: int = 3600) -> str:
        return self.control("POST", "/_emulator/token", {"user": user, "lifetimeSeconds": lifetime})["access_token"]

    def faults(self, **faults) -> dict:
        return self.control("POST", "/_emulator/faults", faults)

    def reset(self) -> None:
        self.control("POST", "/_emulator/reset", {})

    def stats(self) -> dict:
        return self.control("GET", "/_emulator/stats")

    def upsert_product(self, product_id: str, product_name: str, policy_value: str = "Enabled") -> None:
        self.control("POST", "/_emulator/products", {"productId": product_id, "productName": product_name, "policyValue": policy_value})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
