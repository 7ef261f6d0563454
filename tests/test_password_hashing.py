"""The production hasher: Django's PBKDF2 hashes, computed on threads that give way to requests."""

import os
import threading

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, identify_hasher, make_password

from onboarding.hashers import LowPriorityPBKDF2PasswordHasher

PRODUCTION_HASHERS = [
    "onboarding.hashers.LowPriorityPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS  # conftest swaps in MD5 for speed


def test_its_hashes_are_djangos_pbkdf2_hashes_both_ways(production_hashers):
    ours = LowPriorityPBKDF2PasswordHasher().encode("a-long-passphrase-42", "somesalt", iterations=1000)
    djangos = PBKDF2PasswordHasher().encode("a-long-passphrase-42", "somesalt", iterations=1000)

    assert ours == djangos and ours.startswith("pbkdf2_sha256$1000$somesalt$")
    assert check_password("a-long-passphrase-42", djangos)  # a stored hash from before still logs in
    assert not check_password("a-wrong-passphrase", djangos)
    assert isinstance(identify_hasher(make_password("x-long-passphrase")), LowPriorityPBKDF2PasswordHasher)


def test_the_hash_is_computed_on_a_thread_of_lowered_priority(production_hashers, settings, monkeypatch):
    seen = {}
    original = PBKDF2PasswordHasher.encode

    def recording_encode(self, password, salt, iterations=None):
        seen["thread"] = threading.current_thread().name
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return original(self, password, salt, iterations)

    monkeypatch.setattr(PBKDF2PasswordHasher, "encode", recording_encode)
    LowPriorityPBKDF2PasswordHasher().encode("a-long-passphrase-42", "somesalt", iterations=1000)

    assert seen["thread"].startswith("password-hashing")
    assert seen["nice"] == max(settings.PASSWORD_HASHING_NICE, os.getpriority(os.PRIO_PROCESS, 0))
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(
        os.PRIO_PROCESS, 0
    )  # the caller's own is unchanged
