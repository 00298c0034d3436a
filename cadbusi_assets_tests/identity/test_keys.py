import os
import stat

import pytest

from cadbusi_assets.identity import (
    KEY_ENV_VAR,
    KEY_FILE_ENV_VAR,
    PseudonymKey,
    PseudonymKeyError,
    generate_key_file,
    load_key,
)


def test_generated_key_file_loads_and_is_private(tmp_path):
    path = generate_key_file(tmp_path / "secrets" / "k.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = load_key(path, env={})
    assert len(key.secret_bytes()) == 32


def test_generate_refuses_to_overwrite(tmp_path):
    path = generate_key_file(tmp_path / "k.key")
    with pytest.raises(PseudonymKeyError, match="refusing to overwrite"):
        generate_key_file(path)


def test_missing_key_is_a_clear_error():
    with pytest.raises(PseudonymKeyError) as info:
        load_key(env={})
    assert KEY_FILE_ENV_VAR in str(info.value) and "cadbusi keygen" in str(info.value)


def test_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(PseudonymKeyError, match="does not exist"):
        load_key(env={KEY_FILE_ENV_VAR: str(tmp_path / "nope.key")})


@pytest.mark.parametrize("text", ["00" * 8, "aa" * 40, "not a key at all!"])
def test_weak_or_malformed_keys_are_rejected_without_echoing_them(text):
    with pytest.raises(PseudonymKeyError) as info:
        load_key(env={KEY_ENV_VAR: text})
    assert text not in str(info.value)


def test_key_from_environment_hex_and_base64_agree():
    raw = bytes(range(32))
    import base64

    a = load_key(env={KEY_ENV_VAR: raw.hex()})
    b = load_key(env={KEY_ENV_VAR: base64.b64encode(raw).decode()})
    assert a == b


def test_key_never_appears_in_repr_or_str():
    key = PseudonymKey(bytes(range(32)))
    for text in (repr(key), str(key), f"{key}"):
        assert bytes(range(32)).hex()[:16] not in text
    assert key.fingerprint in repr(key)


def test_key_file_inside_a_data_zone_is_refused(tmp_path):
    zone = tmp_path / "research"
    path = generate_key_file(zone / "pseudonym.key")
    with pytest.raises(PseudonymKeyError, match="inside a data zone"):
        load_key(path, env={}, forbidden_roots=(str(zone),))
