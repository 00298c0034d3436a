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


# -- byte-exact key files (issue 9) -----------------------------------------------------------
HEX = bytes(range(1, 33)).hex()


def _write(tmp_path, data: bytes):
    path = tmp_path / "k.key"
    path.write_bytes(data)
    return path


def test_utf8_bom_in_the_key_file_is_rejected_not_a_silent_second_key(tmp_path):
    plain = load_key(_write(tmp_path, HEX.encode() + b"\n"), env={})
    assert plain.secret_bytes() == bytes(range(1, 33))
    with pytest.raises(PseudonymKeyError, match="byte-order mark") as info:
        load_key(_write(tmp_path, b"\xef\xbb\xbf" + HEX.encode() + b"\n"), env={})
    assert HEX not in str(info.value)


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_bom_is_rejected(tmp_path, bom):
    with pytest.raises(PseudonymKeyError, match="byte-order mark"):
        load_key(_write(tmp_path, bom + HEX.encode("utf-16-le")), env={})


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_one_final_line_ending_is_removed(tmp_path, ending):
    key = load_key(_write(tmp_path, HEX.encode() + ending), env={})
    assert key.secret_bytes() == bytes(range(1, 33))


@pytest.mark.parametrize(
    "data",
    [
        b" " + HEX.encode(),
        HEX.encode() + b" \n",
        HEX.encode() + b"\n\n",
        HEX.encode() + b"\t",
        HEX[:32].encode() + b"\n" + HEX[32:].encode(),
        HEX.encode() + "\u00a0".encode(),
        "\u200b".encode() + HEX.encode(),
    ],
)
def test_other_whitespace_or_invisible_characters_are_rejected(tmp_path, data):
    with pytest.raises(PseudonymKeyError) as info:
        load_key(_write(tmp_path, data), env={})
    assert HEX not in str(info.value)


def test_binary_key_file_is_used_byte_exact(tmp_path):
    raw = bytes([0xFF, 0xFE - 1]) + bytes(range(128, 160)) + b"\n"  # not UTF-8: binary key
    assert load_key(_write(tmp_path, raw), env={}).secret_bytes() == raw


def test_environment_key_follows_the_same_rules():
    assert load_key(env={KEY_ENV_VAR: HEX + "\n"}).secret_bytes() == bytes(range(1, 33))
    with pytest.raises(PseudonymKeyError, match="whitespace"):
        load_key(env={KEY_ENV_VAR: " " + HEX})


def test_fingerprint_is_keyed_short_and_stable():
    key = PseudonymKey(bytes(range(32)))
    import hashlib
    import hmac

    expected = hashlib.sha256(
        hmac.new(bytes(range(32)), b"cadbusi-fingerprint", hashlib.sha256).digest()
    ).hexdigest()[:16]
    assert key.fingerprint == expected
    assert PseudonymKey(bytes(range(1, 33))).fingerprint != expected
    assert bytes(range(32)).hex()[:8] not in key.fingerprint


def test_one_fingerprint_definition_for_keys_and_pseudonymizers():
    from cadbusi_assets.identity import Pseudonymizer, key_fingerprint

    key = PseudonymKey(bytes(range(32)))
    assert key_fingerprint(key) == key_fingerprint(Pseudonymizer(key)) == key.fingerprint
    with pytest.raises(TypeError):
        key_fingerprint("not a key")
