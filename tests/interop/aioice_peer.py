#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# An icemesh-ice peer built on aioice (Debian package python3-aioice), an
# ICE implementation that is not ours. It speaks icemesh-ice's line
# protocol: its description on stdout in RFC 8839 lines (a=ice-ufrag:,
# a=ice-pwd:, a=candidate:, a=end-of-candidates), the peer's read from
# stdin in the same form; then the same data exchange as icemesh-ice
# ("xd" + 32-bit sequence number + a byte that is 1 on a resend, answered
# by "xa" + the same number, 64 bytes each), and "ok sent=N received=N" on stdout when N went each way
# and were acknowledged. Exit 0 on success, 1 on failure or timeout.
#
#   aioice_peer.py controlling|controlled [--count N] [--stun HOST:PORT]
#                  [--turn HOST:PORT --turn-secret SECRET] [--timeout S]
#
# --turn-secret: TURN REST API credentials as coturn's use-auth-secret
# expects (username "expiry:id", password base64(HMAC-SHA1(secret, user))).
import argparse
import asyncio
import base64
import hashlib
import hmac
import struct
import sys
import time

import aioice


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


def rest_credentials(secret):
    user = "%d:aioice" % (int(time.time()) + 3600)
    mac = hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()
    return user, base64.b64encode(mac).decode()


def log(t0, msg):
    print("aioice: %s after %.0f ms" % (msg, (time.monotonic() - t0) * 1000),
          file=sys.stderr, flush=True)


async def read_description(conn):
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            raise EOFError("the peer's description ended early")
        line = line.strip()
        if line.startswith("a=ice-ufrag:"):
            conn.remote_username = line[len("a=ice-ufrag:"):]
        elif line.startswith("a=ice-pwd:"):
            conn.remote_password = line[len("a=ice-pwd:"):]
        elif line.startswith("a=candidate:"):
            await conn.add_remote_candidate(
                aioice.Candidate.from_sdp(line[len("a=candidate:"):]))
        elif line == "a=end-of-candidates":
            await conn.add_remote_candidate(None)
            return


def describe_selected(conn):
    # aioice has no public accessor for the nominated pair.
    pair = getattr(conn, "_nominated", {}).get(1)
    if pair is None:
        return "unknown"
    lc, rc = pair.local_candidate, pair.remote_candidate
    return "local=%s %s:%d remote=%s %s:%d" % (
        lc.type, lc.host, lc.port, rc.type, rc.host, rc.port)


async def exchange(conn, count):
    acked, seen = set(), set()
    done = asyncio.Event()

    async def reader():
        while True:  # keeps answering resends until the connection closes
            data = await conn.recv()
            if len(data) < 6 or data[0:1] != b"x":
                continue
            seq = struct.unpack(">I", data[2:6])[0]
            if not 1 <= seq <= count:
                continue
            if data[1:2] == b"d":
                seen.add(seq)
                await conn.send(b"xa" + data[2:6] + bytes(58))
            elif data[1:2] == b"a":
                acked.add(seq)
            if len(acked) >= count and len(seen) >= count:
                done.set()

    task = asyncio.ensure_future(reader())
    for seq in range(1, count + 1):
        await conn.send(b"xd" + struct.pack(">I", seq) + bytes(58))
        await asyncio.sleep(0.005)
    while not done.is_set():  # resend what is not acknowledged
        try:
            await asyncio.wait_for(done.wait(), 0.2)
        except asyncio.TimeoutError:
            for seq in range(1, count + 1):
                if seq not in acked:  # byte 6 = 1 marks a resend
                    await conn.send(b"xd" + struct.pack(">I", seq) + b"\x01" + bytes(57))
    print("ok sent=%d received=%d" % (count, len(seen)), flush=True)
    await asyncio.sleep(0.5)  # keep answering the peer's resends
    task.cancel()


async def session(args, t0):
    kw = {}
    if args.stun:
        kw["stun_server"] = hostport(args.stun)
    if args.turn:
        kw["turn_server"] = hostport(args.turn)
        kw["turn_username"], kw["turn_password"] = rest_credentials(args.turn_secret)
    conn = aioice.Connection(ice_controlling=(args.role == "controlling"),
                             use_ipv6=False, **kw)
    await conn.gather_candidates()
    out = ["a=ice-ufrag:" + conn.local_username, "a=ice-pwd:" + conn.local_password]
    out += ["a=candidate:" + c.to_sdp() for c in conn.local_candidates]
    out.append("a=end-of-candidates")
    print("\n".join(out), flush=True)
    await read_description(conn)
    await conn.connect()
    log(t0, "connected (%s)" % describe_selected(conn))
    await exchange(conn, args.count)
    await conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["controlling", "controlled"])
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--stun")
    p.add_argument("--turn")
    p.add_argument("--turn-secret")
    p.add_argument("--timeout", type=float, default=15)
    args = p.parse_args()
    if args.turn and not args.turn_secret:
        p.error("--turn needs --turn-secret")
    t0 = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(session(args, t0), args.timeout))
    except Exception as e:  # any failure is reported, not a traceback
        print("aioice: failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
