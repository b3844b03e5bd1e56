#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Derive the handshake vectors of test_noise.c independently of icemesh's C code:
BLAKE2s from Python's hashlib, X25519 and ChaCha20-Poly1305 from the
`cryptography` package (Debian: python3-cryptography); XChaCha20 is
HChaCha20 (written out below) in front of that ChaCha20-Poly1305. Follows the WireGuard
paper §5.4 and wireguard.com/protocol step by step.

    python3 tests/unit/wireguard/vectors.py     # prints the C tables
    python3 tests/unit/wireguard/vectors.py --seeds tests/fuzz/corpus/wg_message
                                                # writes the fuzz seeds

test_noise.c holds the handshake part of the output, test_cookie.c the
cookie part (from V_COOKIE_SECRET on).

Inputs are fixed: each key is BLAKE2s-256 of a label, the timestamp is unix
1700000000 s + 0x01000000 ns, indices 0x11223344 (initiator) and 0x55667788.
"""
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                              X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization


def HASH(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def MAC(key, data):
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def HMAC(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def KDF(n, key, data):
    t0 = HMAC(key, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def clamp(k):
    k = bytearray(k)
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    return bytes(k)


def pub(priv):
    raw = X25519PrivateKey.from_private_bytes(priv).public_key()
    return raw.public_bytes(serialization.Encoding.Raw,
                            serialization.PublicFormat.Raw)


def DH(priv, pubk):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pubk))


def AEAD(key, counter, plain, ad):
    nonce = b"\0" * 4 + struct.pack("<Q", counter)
    return ChaCha20Poly1305(key).encrypt(nonce, plain, ad)


def label_key(label):
    return clamp(HASH(label.encode()))


CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"

S_i = label_key("icemesh test initiator static")
S_r = label_key("icemesh test responder static")
E_i = label_key("icemesh test initiator ephemeral")
E_r = label_key("icemesh test responder ephemeral")
PSK = HASH(b"icemesh test preshared key")
S_i_pub, S_r_pub, E_i_pub, E_r_pub = pub(S_i), pub(S_r), pub(E_i), pub(E_r)
I_i, I_r = 0x11223344, 0x55667788
TS = struct.pack(">QI", 0x400000000000000A + 1700000000, 0x01000000)

# --- initiation (§5.4.2)
C = HASH(CONSTRUCTION)
H = HASH(C, IDENTIFIER)
H = HASH(H, S_r_pub)
C = KDF(1, C, E_i_pub)[0]
H = HASH(H, E_i_pub)
C, k = KDF(2, C, DH(E_i, S_r_pub))
enc_static = AEAD(k, 0, S_i_pub, H)
H = HASH(H, enc_static)
C, k = KDF(2, C, DH(S_i, S_r_pub))
enc_ts = AEAD(k, 0, TS, H)
H = HASH(H, enc_ts)
init = bytes([1, 0, 0, 0]) + struct.pack("<I", I_i) + E_i_pub + enc_static + enc_ts
init += MAC(HASH(LABEL_MAC1, S_r_pub), init)
init += b"\0" * 16
assert len(init) == 148

# --- response (§5.4.3)
C = KDF(1, C, E_r_pub)[0]
H = HASH(H, E_r_pub)
C = KDF(1, C, DH(E_r, E_i_pub))[0]
C = KDF(1, C, DH(E_r, S_i_pub))[0]
C, t, k = KDF(3, C, PSK)
H = HASH(H, t)
enc_nothing = AEAD(k, 0, b"", H)
H = HASH(H, enc_nothing)
resp = bytes([2, 0, 0, 0]) + struct.pack("<II", I_r, I_i) + E_r_pub + enc_nothing
resp += MAC(HASH(LABEL_MAC1, S_i_pub), resp)
resp += b"\0" * 16
assert len(resp) == 92

# --- transport keys (§5.4.5) and the first data message from the initiator
T_send_i, T_recv_i = KDF(2, C, b"")
payload = b"icemesh test payload"  # 20 bytes, padded to 32 (§5.4.6)
padded = payload + b"\0" * (-len(payload) % 16)
data = bytes([4, 0, 0, 0]) + struct.pack("<IQ", I_r, 0) + AEAD(T_send_i, 0, padded, b"")
keepalive = bytes([4, 0, 0, 0]) + struct.pack("<IQ", I_i, 0) + AEAD(T_recv_i, 0, b"", b"")


# --- cookie reply (§5.4.7) from the responder, under load, to the initiation
def rotl(v, n):
    return ((v << n) & 0xffffffff) | (v >> (32 - n))


def hchacha20(key, nonce16):
    st = list(struct.unpack("<4I", b"expand 32-byte k")) + \
        list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        st[a] = (st[a] + st[b]) & 0xffffffff; st[d] = rotl(st[d] ^ st[a], 16)
        st[c] = (st[c] + st[d]) & 0xffffffff; st[b] = rotl(st[b] ^ st[c], 12)
        st[a] = (st[a] + st[b]) & 0xffffffff; st[d] = rotl(st[d] ^ st[a], 8)
        st[c] = (st[c] + st[d]) & 0xffffffff; st[b] = rotl(st[b] ^ st[c], 7)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(st[0:4] + st[12:16]))


def XAEAD(key, nonce24, plain, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


COOKIE_SECRET = HASH(b"icemesh test cookie secret")
COOKIE_NONCE = HASH(b"icemesh test cookie nonce")[:24]
SRC = bytes([192, 0, 2, 7]) + struct.pack(">H", 51820)  # 192.0.2.7:51820
cookie = MAC(COOKIE_SECRET, SRC)
cookie_key = HASH(b"cookie--", S_r_pub)
cookie_reply = bytes([3, 0, 0, 0]) + struct.pack("<I", I_i) + COOKIE_NONCE + \
    XAEAD(cookie_key, COOKIE_NONCE, cookie, init[116:132])
assert len(cookie_reply) == 64
# the initiation again, now with MAC2 = MAC(cookie, everything before it)
init_mac2 = init[:132] + MAC(cookie, init[:132])


# an IPv4 packet (32 bytes, no padding) from the initiator, counter 1: a fuzz
# seed that decrypts all the way to the IP length check
ip = bytearray(32)
ip[0], ip[3], ip[8], ip[9] = 0x45, 32, 64, 17
ip[12:16], ip[16:20] = bytes([192, 168, 78, 1]), bytes([192, 168, 78, 2])
data_ip = bytes([4, 0, 0, 0]) + struct.pack("<IQ", I_r, 1) + \
    AEAD(T_send_i, 1, bytes(ip), b"")


def write_seeds(d):
    seeds = {"initiation": init, "response": resp, "data": data,
             "keepalive": keepalive, "data_ip": data_ip,
             "cookie": bytes([3, 0, 0, 0]) + struct.pack("<I", I_i) + bytes(56),
             "short": bytes([4, 0, 0, 0]) + bytes(20)}
    for name, b in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
    write_seeds(sys.argv[2])
    sys.exit(0)


def c_hex(name, b):
    print("static const char %s[] =" % name)
    h = b.hex()
    for i in range(0, len(h), 64):
        print('\t"%s"%s' % (h[i:i + 64], ";" if i + 64 >= len(h) else ""))


for name, b in [("S_I", S_i), ("S_R", S_r), ("E_I", E_i), ("E_R", E_r),
                ("PSK", PSK), ("S_I_PUB", S_i_pub), ("S_R_PUB", S_r_pub),
                ("INITIATION", init), ("RESPONSE", resp),
                ("T_SEND_I", T_send_i), ("T_RECV_I", T_recv_i),
                ("DATA_I_TO_R", data), ("KEEPALIVE_R_TO_I", keepalive),
                ("COOKIE_SECRET", COOKIE_SECRET), ("COOKIE_NONCE", COOKIE_NONCE),
                ("COOKIE", cookie), ("COOKIE_REPLY", cookie_reply),
                ("INITIATION_MAC2", init_mac2)]:
    c_hex("V_" + name, b)
