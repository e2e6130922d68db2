"""Callbacks are not an SSRF port scanner.

Nothing here sends to an address other than 127.0.0.1: private, link-local and other internal
targets are checked for *refusal before any connection* (a resolver table stands in for DNS,
and ``socket.create_connection`` is watched); the only listeners that receive anything are on
127.0.0.1 and explicitly allow-listed.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from common.callback_policy import (
    CallbackRefused,
    check_callback_url,
    parse_networks,
    resolve_target,
)
from tests.service.conftest import CORRECT, Namespace, wait_for
from worker.callbacks import UNREACHABLE, CallbackError, deliver

LOOPBACK_ONLY = parse_networks("127.0.0.1/32")

INTERNAL_ADDRESSES = [
    "127.0.0.1", "127.1.2.3", "10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
]
NUMERIC_URLS = [
    "http://127.0.0.1:6379/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/",
    "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/", "http://10.0.0.5/hook",
    "http://169.254.169.254/latest/meta-data/", "http://192.168.0.1/", "http://[fe80::1]/",
    "http://100.64.0.1/", "http://0.0.0.0:80/", "http://224.0.0.1/",
]
MALFORMED_URLS = [
    "http://user:secret@hooks.example.com/", "http://@hooks.example.com/",
    "http://hooks.example.com/a b", "http://hooks.example.com/\r\nX-Injected: 1",
    "http://hooks.example.com/\x00", "ftp://hooks.example.com/", "file:///etc/passwd",
    "http://hooks.example.com:99999/", "http://hooks.example.com:port/",
    "http://h\u00f6oks.example.com/", "http:///path-only",
]


class Connections:
    """Every ``socket.create_connection`` made while installed (none must reach an internal
    address)."""

    def __init__(self) -> None:
        self.made: list[tuple[Any, ...]] = []


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    seen = Connections()
    real = socket.create_connection

    def watched(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.made.append(address)
        if address[0] != "127.0.0.1":  # belt and braces: a bug must not send anywhere
            raise AssertionError(f"attempted a connection to {address}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", watched)
    return seen


def table(answers: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver that answers from a table (no DNS traffic), counting calls."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return answers[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize("url", NUMERIC_URLS)
def test_numeric_internal_hosts_are_refused_at_submission_without_dns(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_callback_url(url)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_urls_with_user_info_control_characters_or_bad_ports_are_refused(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_callback_url(url)


def test_public_and_allow_listed_urls_pass_the_submission_check() -> None:
    assert check_callback_url("https://lms.example.edu/grades?x=1")
    assert check_callback_url("http://93.184.216.34/hook")
    assert check_callback_url("http://127.0.0.1:8080/hook", LOOPBACK_ONLY)
    with pytest.raises(CallbackRefused):
        check_callback_url("http://127.0.0.2:8080/hook", LOOPBACK_ONLY)


@pytest.mark.parametrize("address", INTERNAL_ADDRESSES)
def test_names_resolving_to_internal_addresses_are_refused_before_any_connection(
    address: str, connections: Connections,
) -> None:
    resolver = table({"hooks.example.com": [address]})
    with pytest.raises(CallbackRefused):
        deliver("http://hooks.example.com/hook", b"{}", "secret", 2, "sub", 1,
                resolver=resolver)
    assert connections.made == []


def test_a_name_with_one_internal_address_among_public_ones_is_refused(
    connections: Connections,
) -> None:
    resolver = table({"hooks.example.com": ["93.184.216.34", "10.1.1.1"]})
    with pytest.raises(CallbackRefused):
        deliver("http://hooks.example.com/", b"{}", "secret", 2, "sub", 1, resolver=resolver)
    assert connections.made == []


def test_resolved_target_names_the_checked_address() -> None:
    target = resolve_target("https://lms.example.edu:8443/a/b?c=d",
                            resolver=table({"lms.example.edu": ["93.184.216.34"]}))
    assert (target.scheme, target.host, target.port) == ("https", "lms.example.edu", 8443)
    assert (target.address, target.path) == ("93.184.216.34", "/a/b?c=d")


@pytest.fixture
def listener() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A receiver on 127.0.0.1 that records each request's headers."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(dict(self.headers.items()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), received
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address_without_resolving_again(
    listener: tuple[int, list[dict[str, str]]], connections: Connections,
) -> None:
    # DNS rebinding: the name would answer an internal address the second time it is asked.
    port, received = listener
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    status = deliver(f"http://hook.invalid:{port}/hook", b"{}", "secret", 5, "sub", 1,
                     allowed=LOOPBACK_ONLY, resolver=rebinding)
    assert status == 204
    assert calls == ["hook.invalid"]
    assert connections.made == [("127.0.0.1", port)]
    assert received[0]["Host"] == f"hook.invalid:{port}"


def test_https_verifies_the_urls_host_name_over_the_checked_address(
    tmp_path: Path, connections: Connections, monkeypatch: pytest.MonkeyPatch,
) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hook.invalid",
                    "-addext", "subjectAltName=DNS:hook.invalid"],
                   check=True, capture_output=True)
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    resolver = table({"hook.invalid": ["127.0.0.1"]})
    try:
        # A certificate nobody vouches for: not delivered.
        with pytest.raises(CallbackError):
            deliver(f"https://hook.invalid:{port}/", b"{}", "s", 5, "sub", 1,
                    allowed=LOOPBACK_ONLY, resolver=resolver)
        # Trusted, it is checked against the URL's name while the connection goes to the
        # checked address.
        trusting = ssl.create_default_context(cafile=str(cert))
        monkeypatch.setattr(ssl, "create_default_context", lambda: trusting)
        assert deliver(f"https://hook.invalid:{port}/", b"{}", "s", 5, "sub", 1,
                       allowed=LOOPBACK_ONLY, resolver=resolver) == 204
    finally:
        server.shutdown()
        server.server_close()
    assert received == [f"hook.invalid:{port}"]
    assert set(connections.made) == {("127.0.0.1", port)}


def test_loopback_is_refused_unless_allow_listed(
    listener: tuple[int, list[dict[str, str]]], connections: Connections,
) -> None:
    port, received = listener
    resolver = table({"hook.invalid": ["127.0.0.1"]})
    with pytest.raises(CallbackRefused):
        deliver(f"http://hook.invalid:{port}/", b"{}", "s", 5, "sub", 1, resolver=resolver)
    assert received == [] and connections.made == []


def test_network_errors_are_not_echoed(connections: Connections) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(CallbackError) as caught:
        deliver(f"http://127.0.0.1:{closed}/", b"{}", "s", 5, "sub", 1, allowed=LOOPBACK_ONLY)
    assert str(caught.value) == UNREACHABLE
    assert "refused" not in str(caught.value).lower()


def test_a_name_that_cannot_be_resolved_is_unreachable_not_a_crash(
    connections: Connections,
) -> None:
    def numeric_only(host: str, port: int) -> list[str]:
        # The C library's own errors (bad labels, unknown names) without asking any DNS.
        infos = socket.getaddrinfo(host.encode("idna"), port, flags=socket.AI_NUMERICHOST)
        return [str(info[4][0]) for info in infos]

    for url in ("http://a..b/", "http://" + "x" * 70 + ".example/", "http://nowhere.invalid/"):
        with pytest.raises(CallbackError) as caught:
            deliver(url, b"{}", "s", 2, "sub", 1, resolver=numeric_only)
        assert str(caught.value) == UNREACHABLE
    assert connections.made == []


# --- through the API and a real worker -----------------------------------------------------


def test_learner_tokens_may_not_set_callbacks(service: Namespace) -> None:
    response = service.client.post(
        "/api/v1/submissions", headers=service.headers("learner"),
        json={"exercise": "add-one", "code": CORRECT, "callback_url": "https://lms.example.edu/"})
    assert response.status_code == 403
    assert "callback_url" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("url", ["http://2130706433:6379/", "http://169.254.169.254/",
                                 "http://user:pw@lms.example.edu/",
                                 "http://lms.example.edu/\r\nX: 1"])
def test_the_api_refuses_unsafe_callback_urls_with_422(service: Namespace, url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(service.app.config, "CALLBACK_ALLOWED_NETWORKS", "")  # no allow-list
    response = service.client.post(
        "/api/v1/submissions", headers=service.headers("lms"),
        json={"exercise": "add-one", "code": CORRECT, "learner": "ann", "callback_url": url})
    assert response.status_code == 422, response.get_json()


@pytest.mark.slow
def test_a_name_resolving_to_loopback_is_refused_at_send_time_with_no_network_detail(
    namespace_factory: Callable[..., Namespace],
    listener: tuple[int, list[dict[str, str]]],
) -> None:
    # No allow-list: 'localhost' passes the submission check (it is a name) and resolves,
    # on the worker, to loopback: refused, and the listener hears nothing.
    ns = namespace_factory(callback_allowed_networks="")
    ns.start_worker()
    port, received = listener
    submission_id = ns.submit(CORRECT, learner="ssrf", callback_url=f"http://localhost:{port}/")
    assert ns.wait_finished(submission_id)["status"] == "graded"
    wait_for(lambda: ns.record(submission_id).callback_status == "failed", 30,
             "the callback to be refused")
    view = ns.client.get(f"/api/v1/submissions/{submission_id}",
                         headers=ns.headers()).get_json()
    assert view["callback"]["status"] == "failed" and view["callback"]["attempts"] == 1
    assert "Connection" not in (view["callback"]["error"] or "")
    assert "not call" in view["callback"]["error"]
    assert received == []


def test_a_malformed_allow_list_stops_the_app_at_start() -> None:
    from grader.app import create_app

    with pytest.raises(ValueError, match="not an address or network"):
        create_app({"TESTING": True, "CALLBACK_ALLOWED_NETWORKS": "10.0.0.0/8, intranet"})
