"""ADB's AUTH exchange, device side: the host must prove it holds a key listed in ``adb_keys``.

Facts (AOSP adb at platform-tools-29.0.6: protocol.txt, adb_auth.h, adbd_auth.cpp,
adb_auth_host.cpp; libcrypto_utils/android_pubkey.c):
- After the host's CNXN the device sends AUTH(TOKEN=1, 0, 20 random bytes). The host answers
  AUTH(SIGNATURE=2, 0, sig): ``RSA_sign(NID_sha1, token)``, i.e. PKCS#1 v1.5 over the token
  taken as an already computed SHA-1 digest. A signature from a listed key gets the device's
  CNXN; any other gets a fresh TOKEN, and the host tries its next key.
- Out of keys, the host sends AUTH(RSAPUBLICKEY=3, 0, "<base64> user@host\\0") and lists the
  device as ``unauthorized``. A phone then asks its user; a virtual phone has none to ask, so
  it stays silent (unauthorized): a public key, even a listed one, proves nothing.
- A public key line is base64 of the ``RSAPublicKey`` struct, little-endian u32s:
  modulus size in words (64 for 2048 bits), n0inv, modulus[words], rr[words], exponent;
  then a space and a comment (``user@host``). Only n and e are needed to verify.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

TOKEN, SIGNATURE, RSAPUBLICKEY = 1, 2, 3
TOKEN_SIZE = 20
_WORD = struct.Struct("<I")
log = logging.getLogger("farm.sim")


def parse_public_key(line: str) -> rsa.RSAPublicKey:
    """The key of one ``adb_keys`` / ``adbkey.pub`` line; ValueError when it is not one."""
    try:
        blob = base64.b64decode(line.split()[0], validate=True)
    except (IndexError, binascii.Error) as exc:
        raise ValueError(f"not an adb public key: {line[:40]!r}") from exc
    if len(blob) < 8:
        raise ValueError("adb public key too short")
    words = _WORD.unpack_from(blob)[0]
    modulus_end = 8 + 4 * words
    if len(blob) != modulus_end + 4 * words + 4:
        raise ValueError(f"adb public key of {len(blob)} bytes for {words} modulus words")
    n = int.from_bytes(blob[8:modulus_end], "little")
    e = _WORD.unpack_from(blob, len(blob) - 4)[0]
    return rsa.RSAPublicNumbers(e, n).public_key()


def signed_by(key: rsa.RSAPublicKey, token: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the host's ``RSA_sign(NID_sha1, token)`` with ``key``."""
    try:
        key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
    except InvalidSignature:
        return False
    return True


class AdbKeys:
    """The public keys a device accepts: every line of the given files, read at each use (a
    key file written after the device started, e.g. by the adb server's first start, counts)."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.files = list(files)

    def lines(self) -> list[str]:
        found = []
        for path in self.files:
            if path.is_file():
                found += [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return found

    def keys(self) -> list[rsa.RSAPublicKey]:
        keys = []
        for line in self.lines():
            try:
                keys.append(parse_public_key(line))
            except ValueError as exc:
                log.warning("adb_keys: skipped a line: %s", exc)
        return keys

    def verifies(self, token: bytes, signature: bytes) -> bool:
        return any(signed_by(key, token, signature) for key in self.keys())


def new_token() -> bytes:
    return os.urandom(TOKEN_SIZE)
