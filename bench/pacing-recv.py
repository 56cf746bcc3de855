#!/usr/bin/env python3
"""Receiver of the pacing bench: kernel receive timestamps (SO_TIMESTAMPNS) of every datagram.

Usage: pacing-recv.py PORT [--idle S] [--max-seconds S] [--skip-bytes N]

Binds 127.0.0.1:PORT, prints "ready" on stderr (and "first" at the first datagram), then records the kernel timestamp and size of
each datagram until nothing arrives for --idle seconds (default 1.5) after the first one, or
--max-seconds pass (default 60). Prints one JSON object: datagrams, bytes, seconds (first to
last), mbit_per_s (bytes after the first datagram over that span), and the gaps between
consecutive datagrams: mean, sd, p50, p99, max (ms) and the share below 20 us (bursts).
"""
import json
import math
import select
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS


def main():
    args = sys.argv[1:]
    port = int(args[0])
    idle = 1.5
    max_seconds = 60.0
    i = 1
    while i < len(args):
        if args[i] == "--idle":
            idle = float(args[i + 1])
            i += 2
        elif args[i] == "--max-seconds":
            max_seconds = float(args[i + 1])
            i += 2
        else:
            raise SystemExit("unknown option " + args[i])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(("127.0.0.1", port))
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    stamps = []
    sizes = []
    started = time.monotonic()
    cmsg_space = socket.CMSG_SPACE(16)
    while time.monotonic() - started < max_seconds:
        timeout = idle if stamps else max_seconds
        r, _, _ = select.select([s], [], [], timeout)
        if not r:
            if stamps:
                break
            continue
        data, anc, _flags, _addr = s.recvmsg(65536, cmsg_space)
        ts = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", payload[:16])
                ts = sec * 1_000_000_000 + nsec
        if ts is None:
            continue
        if not stamps:
            sys.stderr.write("first\n")
            sys.stderr.flush()
        stamps.append(ts)
        sizes.append(len(data))
    out = {"datagrams": len(stamps), "bytes": sum(sizes)}
    if len(stamps) > 2:
        span = (stamps[-1] - stamps[0]) / 1e9
        gaps = sorted((stamps[k + 1] - stamps[k]) / 1e6 for k in range(len(stamps) - 1))
        mean = sum(gaps) / len(gaps)
        sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
        out.update(
            seconds=round(span, 6),
            mbit_per_s=round((sum(sizes) - sizes[0]) * 8 / span / 1e6, 6),
            gap_mean_ms=round(mean, 4),
            gap_sd_ms=round(sd, 4),
            gap_p50_ms=round(gaps[len(gaps) // 2], 4),
            gap_p99_ms=round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 4),
            gap_max_ms=round(gaps[-1], 4),
            bursts_below_20us=round(sum(1 for g in gaps if g < 0.02) / len(gaps), 4),
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
