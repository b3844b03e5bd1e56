#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny UDP reflector and NAT behaviour probe for the icemesh lab.

  udpprobe.py reflect ADDR:PORT [ADDR:PORT...]
      Answer "map" with "map IP:PORT" (the source seen). Answer
      "poke N IP:PORT" by sending "poked" to IP:PORT from socket number N
      (0-based, in argument order). Answer "relay-poke RIP:RPORT IP:PORT" by
      asking the reflector at RIP:RPORT to "poke 0 IP:PORT" (so a host that
      never talked to RIP is poked from there). N counts only the sockets of
      the target's address family. Runs until killed.

  udpprobe.py natcheck --primary IP:PORT --secondary IP:PORT --fresh N
                       --alt IP:PORT [--local IP] [--timeout S]
      From one local socket: "map" to primary and to secondary (same host,
      other port). Then the reflector pokes the mapped address from its
      socket N (a port this host never sent to) and relays a poke through
      --alt (an address this host never sent to). Prints one line:
        mapped=IP:PORT mapping=none|endpoint-independent|dependent
        filtering=none|endpoint-independent|address-dependent|address+port-dependent
      RFC 4787 words; exit 0 when both map requests were answered.

  udpprobe.py punch --reflector IP:PORT --out FILE --in FILE [--timeout S]
      Naive UDP hole punching, as ICE does it without port prediction:
      learn our mapped address from the reflector, write it to --out, wait
      for the peer's in --in, then send to it every 20 ms, and also to every
      address a datagram from the peer came from (what ICE learns as a
      peer-reflexive candidate). Prints "ok from=IP:PORT ms=N" (time spent
      punching) once the peer's datagram and our acknowledged one both got
      through, or "fail"; exit 0 / 1.

  udpprobe.py send IP:PORT TEXT
      Send one datagram and exit 0 when sendto succeeded (the internet's
      black hole must swallow, not refuse).

Everything is bounded by timeouts: no call waits forever.
"""
import select
import socket
import sys
import time


def parse(ep):
    if ep.startswith("["):
        host, _, port = ep[1:].partition("]:")
    else:
        host, _, port = ep.rpartition(":")
    return host, int(port)


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def fmt(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def reflect(eps):
    socks = []
    for ep in eps:
        host, port = parse(ep)
        s = socket.socket(fam(host), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        socks.append(s)
    while True:
        ready, _, _ = select.select(socks, [], [], 1.0)
        for s in ready:
            try:
                data, src = s.recvfrom(2048)
            except OSError:
                continue
            words = data.decode(errors="replace").split()
            if not words:
                continue
            try:
                if words[0] == "map":
                    s.sendto(f"map {fmt(src)}".encode(), src)
                elif words[0] == "poke" and len(words) == 3:
                    # socket N among those of the target's family
                    dest = parse(words[2])
                    same = [x for x in socks if x.family == fam(dest[0])]
                    idx = int(words[1])
                    if 0 <= idx < len(same):
                        same[idx].sendto(b"poked", dest)
                elif words[0] == "relay-poke" and len(words) == 3:
                    r = parse(words[1])
                    t = socket.socket(fam(r[0]), socket.SOCK_DGRAM)
                    t.sendto(f"poke 0 {words[2]}".encode(), r)
                    t.close()
            except (OSError, ValueError):
                pass


def ask(sock, dest, text, want, timeout):
    """Send text to dest until an answer starting with want comes back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.sendto(text.encode(), dest)
        step = min(0.2, max(0.0, deadline - time.monotonic()))
        ready, _, _ = select.select([sock], [], [], step)
        if ready:
            data, _ = sock.recvfrom(2048)
            if data.decode(errors="replace").startswith(want):
                return data.decode()
    return None


def wait_poke(sock, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            data, _ = sock.recvfrom(2048)
            if data == b"poked":
                return True


def natcheck(args):
    opts = dict(zip(args[::2], args[1::2]))
    primary = parse(opts["--primary"])
    secondary = parse(opts["--secondary"])
    alt = opts["--alt"]
    fresh = int(opts["--fresh"])
    timeout = float(opts.get("--timeout", "2"))
    sock = socket.socket(fam(primary[0]), socket.SOCK_DGRAM)
    sock.bind((opts.get("--local", "::" if fam(primary[0]) == socket.AF_INET6 else "0.0.0.0"), 0))
    m1 = ask(sock, primary, "map", "map ", timeout)
    m2 = ask(sock, secondary, "map", "map ", timeout)
    if not m1 or not m2:
        print("error: reflector did not answer", file=sys.stderr)
        return 1
    m1, m2 = m1.split()[1], m2.split()[1]
    local = fmt(sock.getsockname())
    # Our own bound address is the wildcard; compare the port and let the
    # caller judge the address through --local.
    if "--local" in opts and m1 == local:
        mapping = "none"
    elif m1 == m2:
        mapping = "endpoint-independent"
    else:
        mapping = "dependent"
    sock.sendto(f"relay-poke {alt} {m1}".encode(), primary)
    by_addr = wait_poke(sock, 0.5)
    sock.sendto(f"poke {fresh} {m1}".encode(), primary)
    by_port = wait_poke(sock, 0.5)
    if mapping == "none" and by_addr:
        filtering = "none"
    elif by_addr:
        filtering = "endpoint-independent"
    elif by_port:
        filtering = "address-dependent"
    else:
        filtering = "address+port-dependent"
    print(f"mapped={m1} mapping={mapping} filtering={filtering}")
    return 0


def wait_file(path, deadline):
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
        time.sleep(0.01)
    return None


def punch(args):
    opts = dict(zip(args[::2], args[1::2]))
    refl = parse(opts["--reflector"])
    timeout = float(opts.get("--timeout", "3"))
    deadline = time.monotonic() + timeout
    sock = socket.socket(fam(refl[0]), socket.SOCK_DGRAM)
    sock.bind(("::" if fam(refl[0]) == socket.AF_INET6 else "0.0.0.0", 0))
    mine = ask(sock, refl, "map", "map ", 2.0)
    if not mine:
        print("fail: no mapped address")
        return 1
    tmp = opts["--out"] + ".tmp"
    with open(tmp, "w") as f:
        f.write(mine.split()[1])
    import os
    os.rename(tmp, opts["--out"])
    peer = wait_file(opts["--in"], deadline)
    if not peer:
        print("fail: no peer address")
        return 1
    targets = {parse(peer)}
    heard_from = None   # the peer's datagram reached us
    acked = False       # the peer says ours reached it
    start = time.monotonic()
    rtt = None
    # After success keep answering a little, so the peer succeeds too.
    linger_until = None
    while time.monotonic() < deadline:
        if linger_until and time.monotonic() > linger_until:
            break
        for t in list(targets):
            msg = "punch ack" if heard_from else "punch"
            sock.sendto(msg.encode(), t)
        ready, _, _ = select.select([sock], [], [], 0.02)
        while ready:
            data, src = sock.recvfrom(2048)
            if data.startswith(b"punch"):
                key = (src[0], src[1])
                targets.add(key)
                if not heard_from:
                    heard_from = key
                if data == b"punch ack":
                    acked = True
            ready, _, _ = select.select([sock], [], [], 0)
        if heard_from and acked and not linger_until:
            rtt = int((time.monotonic() - start) * 1000)
            linger_until = time.monotonic() + 0.3
    if heard_from and acked:
        print(f"ok from={fmt(heard_from)} ms={rtt}")
        return 0
    print("fail")
    return 1


def send(ep, text):
    host, port = parse(ep)
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    try:
        s.sendto(text.encode(), (host, port))
    except OSError as e:
        print(f"sendto {ep}: {e}", file=sys.stderr)
        return 1
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "reflect":
        reflect(rest)
    elif cmd == "natcheck":
        return natcheck(rest)
    elif cmd == "punch":
        return punch(rest)
    elif cmd == "send" and len(rest) == 2:
        return send(rest[0], rest[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
