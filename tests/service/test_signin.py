"""Sign-in resists guessing: failures are limited per address *and* per account (successful
sign-ins do not count), Argon2 hashes are capped per process (memory), and the most common
passwords are refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

import grader.accounts as accounts_module
from grader.accounts import AccountError, AccountStore
from tests.service.conftest import Namespace

pytestmark = pytest.mark.slow
PASSWORD = "violet kettle harbour"


@pytest.fixture
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    """A fresh namespace per test: the rate-limit counters start at zero."""
    namespace = namespace_factory()
    namespace.app.config.update(SIGNIN_RATE_LIMIT="20 per minute",
                                SIGNIN_ACCOUNT_RATE_LIMIT="10 per 15 minutes")
    AccountStore(namespace.store).create("victim", PASSWORD, "learner")
    return namespace


def attempt(ns: Namespace, username: str, password: str, address: str) -> int:
    client: FlaskClient = ns.app.test_client()
    environ = {"REMOTE_ADDR": address}
    page = client.get("/signin", environ_base=environ).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/signin", environ_base=environ, data={
        "csrf_token": token.group(1), "username": username, "password": password})
    return response.status_code


def test_guessing_one_account_from_many_addresses_is_limited_per_account(ns: Namespace) -> None:
    statuses = [attempt(ns, "victim", f"guess number {i}", f"10.9.0.{i}") for i in range(10)]
    assert statuses == [401] * 10
    # The eleventh guess, from yet another address, is refused; so is the right password
    # until the window passes.
    assert attempt(ns, "victim", "guess number 11", "10.9.1.1") == 429
    assert attempt(ns, "Victim", PASSWORD, "10.9.1.2") == 429
    # Other accounts are not locked out.
    AccountStore(ns.store).create("bystander", PASSWORD, "learner")
    assert attempt(ns, "bystander", PASSWORD, "10.9.1.3") == 302


def test_guessing_many_accounts_from_one_address_is_limited_per_address(ns: Namespace) -> None:
    statuses = [attempt(ns, f"user{i}", "not the password", "10.8.0.1") for i in range(20)]
    assert statuses == [401] * 20
    assert attempt(ns, "victim", PASSWORD, "10.8.0.1") == 429
    assert attempt(ns, "victim", PASSWORD, "10.8.0.2") == 302


def test_successful_sign_ins_do_not_count(ns: Namespace) -> None:
    statuses = [attempt(ns, "victim", PASSWORD, "10.7.0.1") for _ in range(25)]
    assert statuses == [302] * 25


class CountingHasher:
    """Wraps the real Argon2 hasher and records how many hashes ran at once."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def _count(self, method: str, *args: Any) -> Any:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(0.02)  # widen the window in which overlaps would show
            return getattr(self.real, method)(*args)
        finally:
            with self.lock:
                self.running -= 1

    def verify(self, *args: Any) -> Any:
        return self._count("verify", *args)

    def hash(self, *args: Any) -> Any:
        return self._count("hash", *args)

    def check_needs_rehash(self, *args: Any) -> Any:
        return self.real.check_needs_rehash(*args)


def test_concurrent_password_hashes_are_capped(ns: Namespace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingHasher(accounts_module._hasher)
    monkeypatch.setattr(accounts_module, "_hasher", counting)
    accounts_module.set_hash_concurrency(2)
    store = AccountStore(ns.store)
    results: list[bool] = []

    def sign_in(i: int) -> None:
        password = PASSWORD if i % 2 else "wrong password here"
        results.append(store.authenticate("victim", password) is not None)

    threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 20 and results.count(True) == 10
    assert counting.peak == 2


@pytest.mark.parametrize("password", ["12345678", "password", "Password1", "qwertyuiop",
                                      "aaaaaaaaaaaa", "abababababab"])
def test_common_passwords_are_refused(ns: Namespace, password: str) -> None:
    store = AccountStore(ns.store)
    with pytest.raises(AccountError, match="attacker"):
        store.create("newcomer", password, "learner")
    with pytest.raises(AccountError, match="attacker"):
        store.set_password("victim", password)


def test_a_password_equal_to_the_username_is_refused(ns: Namespace) -> None:
    with pytest.raises(AccountError, match="attacker"):
        AccountStore(ns.store).create("longusername", "LongUserName", "learner")
