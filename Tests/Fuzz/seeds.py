#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into Tests/Fuzz/Corpus/TARGET/.

The seeds are committed; this script says where each comes from and rewrites them all. Each file is
named after what it holds. Inputs start with the parameter bytes the target's harness reads first.
"""
import base64
import hashlib
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "Corpus"


def frame(opcode, payload=b"", fin=True, mask=b"\0\0\0\0", rsv=0, length=None):
    """A frame; masked with `mask` unless it is None. A zero key leaves the payload readable."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([bit | n])
    elif n <= 0xFFFF:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def connection():
    # Option byte (0: 1 MiB limit, auto-pong, server side; 0x10: client side), then a split point.
    server, client = b"\x00\x00\x05", b"\x10\x00\x05"
    return {
        # RFC 6455 §5.7 vectors.
        "rfc-masked-hello": server + bytes.fromhex("818537fa213d7f9f4d5158"),
        "rfc-fragmented-hello": server + frame(1, b"Hel", fin=False, mask=b"\x37\xfa\x21\x3d")
        + frame(0, b"lo", mask=b"\x37\xfa\x21\x3d"),
        "rfc-masked-ping": server + bytes.fromhex("898537fa213d7f9f4d5158"),
        "rfc-unmasked-hello-client": client + bytes.fromhex("810548656c6c6f"),
        "rfc-binary-256-client": client + frame(2, bytes(range(256)), mask=None),
        "text-then-close": server + frame(1, "héllo €𝄞".encode()) + frame(8, b"\x03\xe8bye"),
        "interleaved-control": server + frame(1, b"one ", fin=False) + frame(9, b"p") + frame(0, b"two", fin=False)
        + frame(10, b"q") + frame(0, b" three"),
        "binary-126": server + frame(2, bytes(300)),
        "length-127": server + b"\x82\xff" + struct.pack(">Q", 5) + b"\0\0\0\0abcde",
        "invalid-utf8-split": server + frame(1, b"\xce", fin=False) + frame(0, b"\xba\xe1\xbd") + frame(0, b"\xff"),
        "empty-close": server + frame(8),
        "close-1012-client": client + frame(8, b"\x03\xf4restart", mask=None),
        "reserved-opcode": server + frame(3, b"x"),
        "limit-16-too-big": b"\x04\x00\x03" + frame(2, bytes(17)),
        "no-auto-pong": b"\x08\x00\x02" + frame(9, b"ping") + frame(1, b"after"),
    }


HANDSHAKE = (b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


def http_handshake():
    # Option byte (bit 0: a response; bits 1-3: head size bound, 0 = 16 KiB), then a split point.
    request, response = b"\x00\x00\x20", b"\x01\x00\x20"
    accept = base64.b64encode(hashlib.sha1(b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    return {
        "rfc-opening-handshake": request + HANDSHAKE,
        "rfc-response": response + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        "frames-after-head": request + HANDSHAKE + bytes.fromhex("818537fa213d7f9f4d5158"),
        "absolute-form-bare-lf": request + HANDSHAKE.replace(b"/chat?room=1", b"http://server.example.com/chat")
        .replace(b"\r\n", b"\n"),
        "leading-empty-lines": request + b"\r\n\n" + HANDSHAKE,
        "content-length": request + HANDSHAKE[:-2] + b"Content-Length: 0\r\n\r\n",
        "plain-get": request + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "post": request + b"POST /chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "folded-header": request + b"GET / HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n",
        "small-bound": b"\x02\x00\x10" + HANDSHAKE,
    }


def utf8():
    # Two split points, then the bytes.
    p = b"\x00\x03\x00\x07"
    return {
        "ascii": p + b"Hello, world! " * 4,
        "mixed": p + "κόσμε €𝄞 Ünïcödé".encode(),
        "markus-kuhn-boundaries": p + "\u0080\u07ff\u0800\uffff\U00010000\U0010ffff".encode(),
        "surrogate-ed-a0": p + b"abc\xed\xa0\x80def",
        "overlong-slash": p + b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",
        "beyond-10ffff": p + b"\xf4\x90\x80\x80\xf5",
        "truncated-4-byte": p + b"\xf0\x9d\x84",
        "long-ascii-then-error": b"\x00\x21\x00\x40" + b"a" * 70 + b"\xe2\x82\xac" + b"b" * 40 + b"\x80",
    }


def line_splitter():
    # Option byte (bits 0-5: line bound - 1; bit 6: drop long lines), the text bound - 1, a split point.
    return {
        "lines-crlf": b"\x3f\x1f\x00\x05" + b"hello\nworld\r\nlast without newline",
        "long-line-pieces": b"\x07\x1f\x00\x03" + b"0123456789abcdefghij\nshort\n",
        "utf8-at-cut": b"\x04\x03\x00\x02" + "€€€€€€\n𝄞𝄞𝄞\n".encode(),
        "discard-long": b"\x45\x1f\x00\x04" + b"ok\nfar too long for the bound\nok again\n",
        "cr-at-bound": b"\x02\x1f\x00\x01" + b"abc\r\nab\r\n\r\r\n",
        "invalid-bytes": b"\x0f\x02\x00\x06" + b"\xff\xfe caf\xc3\n\xe2\x82\n",
    }


def command_line():
    return {
        "plain": b"./handlers/echo --flag value",
        "quotes": b"""sh -c 'echo "$HOME" > /dev/null' "a \\"b\\" \\$c" d\\ e""",
        "empty-words": b"prog '' \"\" x",
        "words-nul": b"\0prog\0it's\0two words\0back\\slash\0\0",
        "unicode": "grüße 'ünï cödé' \"€\"".encode(),
    }


def shared_line():
    return {
        "send": b"send 3,5,9 hello\\nworld \\\\ back",
        "bin": b"bin 7 aGVsbG8=",
        "all": b"all   spaced text",
        "others": b"others 12 hi",
        "close": b"close 4,5 1000 bye bye",
        "close-no-reason": b"close 4 4000",
        "bad-id": b"send 0 x",
    }


def shared_json():
    return {
        "send": b'{"cmd":"send","to":[7,9],"text":"hi \\u00e9\\ud834\\udd1e\\n"}',
        "send-one": b'{"cmd":"send","to":7,"data":"aGVsbG8="}',
        "all": b'{"cmd":"all","text":"hi"}',
        "others": b'{"cmd":"others","except":7,"text":"hi"}',
        "close": b'{"cmd":"close","to":[7],"code":1000,"reason":"bye"}',
        "values": b' [null, true, false, -0.5e-3, 12345678901234567890, "\\"\\\\\\/\\b\\f\\n\\r\\t", {"a": {}}, []] ',
        "nested": b"[" * 33 + b"]" * 33,
        "event-open": b'{"event":"open","id":7,"path":"/chat/lobby","uri":"/chat/lobby?x=1","remote":"127.0.0.1:50312","env":{"A":"1"}}',
    }


def request_path():
    return {
        "root": b"/", "file": b"/index.html", "dir": b"/a/b/", "dotdot": b"/../etc/passwd",
        "encoded-dotdot": b"/%2e%2E/%2e%2e/x", "encoded-slash": b"/a%2fb", "nul": b"/a%00b", "dotfile": b"/.env",
        "utf8": b"/caf%C3%A9/%E2%82%AC", "bad-escape": b"/a%zz%", "double-slash": b"//a//b//",
    }


def toml():
    return {
        "config": b"""# wsgate configuration
port = 8080
address = ["127.0.0.1", "::1"]
loglevel = 'info'
ping-interval = "30s"

[[route]]
path = "/echo"
handler = "echo"
max-message-size = "64KiB"
env = { GREETING = "hi \\u00e9", "quoted key" = '' }

[[route]]
path = "/chat/*"
handler = "shared:./handlers/echo"
[route.env]
ROOM = "lobby"
""",
        "values": b"a = [1, -2, +3, 1_000, true, false, \"s\\t\\\"\\\\\", 'lit', [], [[]], {}]\r\nb.c.d = { e = { f = 1 } }\n",
        "tables": b"[a.b]\nx = 1\n[a]\ny = 2\n[[t]]\n[[t]]\nz = 3\n[t.u]\n",
        "refused": b"a = 1.5\nb = 1979-05-27\nc = \"\"\"x\"\"\"\n",
    }


def resp():
    # Bounds byte 0x33: 1024 elements, depth 1, 16 MiB bulks; 0x0f: depth 4; then a split point.
    flat, deep = b"\x33\x00\x03", b"\x3f\x00\x03"
    return {
        "replies": flat + b"+OK\r\n-ERR unknown command\r\n:42\r\n:-1\r\n$-1\r\n*-1\r\n$0\r\n\r\n",
        "message": deep + b"*3\r\n$7\r\nmessage\r\n$11\r\nwsgate:room\r\n$6\r\nt\x00\r\n\xff\x01\r\n",
        "subscribe": deep + b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n",
        "nested": deep + b"*2\r\n*1\r\n*1\r\n:1\r\n*0\r\n",
        "wrongpass": flat + b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "bad-length": flat + b"$3\r\nabcd\r\n",
        "too-big": b"\x10\x00\x03" + b"$17\r\n" + b"x" * 17 + b"\r\n",
    }


def main():
    targets = {
        "connection": connection(), "http-handshake": http_handshake(), "utf8": utf8(),
        "line-splitter": line_splitter(), "command-line": command_line(), "shared-line": shared_line(),
        "shared-json": shared_json(), "request-path": request_path(), "toml": toml(),
        "resp": resp(),
    }
    for target, seeds in targets.items():
        directory = ROOT / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name, data in seeds.items():
            (directory / name).write_bytes(data)


if __name__ == "__main__":
    main()
