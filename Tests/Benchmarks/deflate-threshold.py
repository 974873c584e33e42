#!/usr/bin/env python3
"""How small a message must be before permessage-deflate stops paying: the compressed size over
the original for prose (README words) and JSON records, each message compressed alone (no context
takeover, wsgate's default), zlib level 6, 15-bit window. The default --compression-threshold (64)
is where both cross 1.0 here: below it a message grows or shrinks by a couple of bytes."""
import json, random, zlib

r = random.Random(1)
words = open("README.md").read().split()

def prose(n):
    s = ""
    while len(s) < n:
        s += r.choice(words) + " "
    return s[:n].encode()

def records(n):
    s = ""
    while len(s) < n:
        s += json.dumps({"id": r.randint(1, 99999), "user": r.choice(words), "ts": 1733400000 + r.randint(0, 999)}) + ","
    return s[:n].encode()

for kind, make in (("prose", prose), ("json", records)):
    for n in (16, 32, 48, 64, 96, 128, 256, 512, 1024):
        total = compressed = 0
        for _ in range(2000):
            m = make(n)
            c = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
            out = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
            total += len(m)
            compressed += len(out) - 4  # RFC 7692 removes the sync-flush tail
        print(f"{kind:5} {n:5} bytes: compressed/original {compressed / total:.2f}")
