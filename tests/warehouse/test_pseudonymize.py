import os
import stat

import pytest

from enclave.errors import EnclaveError
from enclave.warehouse.pseudonymize import KEY_PATTERN, pseudonyms, read_key, write_key

KEY = bytes(range(32))


def test_keys_follow_the_contract_format():
    keys = pseudonyms(["ssid:1234567890", "ssn:123456789", ""], KEY)
    assert all(KEY_PATTERN.fullmatch(k) for k in keys)
    assert all(len(k) == 30 and k.startswith("stu_") for k in keys)
    assert not set("ilou").intersection("".join(k[4:] for k in keys))  # Crockford alphabet


def test_same_key_same_pseudonym_other_key_unlinkable():
    values = [f"ssid:{i}" for i in range(1000)]
    first, again = pseudonyms(values, KEY), pseudonyms(values, KEY)
    other = pseudonyms(values, bytes(32))
    assert first == again
    assert len(set(first)) == 1000
    assert not set(first) & set(other)


def test_kinds_are_separate_domains():
    (stu,) = pseudonyms(["x"], KEY, "stu")
    (emp,) = pseudonyms(["x"], KEY, "emp")
    assert stu[4:] != emp[4:]
    with pytest.raises(ValueError):
        pseudonyms(["x"], KEY, "zzz")


def test_keygen_writes_0600_and_never_overwrites(tmp_path):
    path = write_key(tmp_path / "k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = read_key(path)
    assert len(key) == 32
    with pytest.raises(EnclaveError, match="already exists"):
        write_key(path)
    assert read_key(path) == key


def test_keygen_mode_ignores_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = write_key(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_load_refuses_a_key_others_can_read(tmp_path, mode):
    path = write_key(tmp_path / "k")
    path.chmod(mode)
    with pytest.raises(EnclaveError, match=f"mode {mode:04o}.*chmod 600"):
        read_key(path)


def test_load_refuses_a_key_another_account_owns(tmp_path):
    path = write_key(tmp_path / "k")
    read_key(path)
    os.chown(path, 65534, 65534)  # e.g. a researcher's: they could replace it
    with pytest.raises(EnclaveError, match=r"key file belongs to uid 65534, not to this account"):
        read_key(path)


@pytest.mark.parametrize("content", [b"", b"not hex at all", b"abcd" * 8])
def test_a_file_that_is_not_a_key_is_refused(tmp_path, content):
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(EnclaveError, match="not a key file"):
        read_key(path)


def test_a_missing_key_says_how_to_make_one(tmp_path):
    with pytest.raises(EnclaveError, match="keygen"):
        read_key(tmp_path / "missing")


def test_load_without_a_key_is_refused_unless_it_is_the_benchmark_baseline(population, tmp_path):
    from enclave.warehouse.load import load

    with pytest.raises(ValueError, match="key"):
        load(population[0], str(tmp_path / "w.sqlite"), None)
    assert not (tmp_path / "w.sqlite").exists()
