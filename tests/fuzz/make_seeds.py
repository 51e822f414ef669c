#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of the fuzz targets (corpus/http1, corpus/http2,
corpus/wire).

The HTTP/2 seeds are built frame by frame (HPACK literals without indexing), so they need no
third-party module. Rerun after changing it; the outputs are committed.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

HTTP1 = {
    "get": b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    "keepalive_two": b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined_mixed": (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                        b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
                        b"GET /l HTTP/1.1\r\nHost: x\r\n\r\n"
                        b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n"),
    "chunked": (b"PUT /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n"),
    "expect_continue": (b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                        b"Expect: 100-continue\r\n\r\nbody"),
    "expect_rejected": (b"PUT /r HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n"
                        b"Expect: 100-continue\r\n\r\n"),
    "early_reject_discard": (b"PUT /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345"
                             b"GET /a HTTP/1.1\r\n\r\n"),
    "cl_and_te": (b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    "two_cl": b"POST /e HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "http10": b"GET /a HTTP/1.0\r\n\r\n",
    "http10_keepalive": b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    "no_length_put": b"PUT /e HTTP/1.1\r\nHost: x\r\n\r\n",
    "big_response": b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    "short_body_source": b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute_form": b"GET http://x:8/a%20b?k=v%2F HTTP/1.1\r\n\r\n",
    "upgrade_h2c": (b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
    "long_header": b"GET /a HTTP/1.1\r\nX-Long: " + b"v" * 2100 + b"\r\n\r\n",
    "bad_line": b"GET /a HTTP/1.1 junk\r\n\r\n",
    "obs_fold": b"GET /a HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n",
}


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack(headers):
    block = b""
    for name, value in headers:
        name, value = name.encode(), value.encode()
        block += b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value
    return block


def request(stream, method, path, extra=(), end_stream=True):
    hs = [(":method", method), (":scheme", "http"), (":authority", "x"), (":path", path)]
    hs += list(extra)
    flags = 0x4 | (0x1 if end_stream else 0)  # END_HEADERS | END_STREAM
    return frame(0x1, flags, stream, hpack(hs))


SETTINGS = frame(0x4, 0, 0, struct.pack(">HI", 0x4, 65535))
SETTINGS_ACK = frame(0x4, 0x1, 0)
START = PREFACE + SETTINGS + SETTINGS_ACK

HTTP2 = {
    "get": START + request(1, "GET", "/a"),
    "head_and_get": START + request(1, "HEAD", "/a") + request(3, "GET", "/b"),
    "post_body": START + request(1, "POST", "/e", [("content-length", "5")], end_stream=False)
    + frame(0x0, 0x0, 1, b"hel") + frame(0x0, 0x1, 1, b"lo"),
    "padded_data": START + request(1, "PUT", "/e", end_stream=False)
    + frame(0x0, 0x8 | 0x1, 1, b"\x03abc\x00\x00\x00"),
    "many_streams": START + b"".join(request(i, "GET", "/l") for i in range(1, 40, 2)),
    "rst_after_headers": START + request(1, "PUT", "/e", end_stream=False)
    + frame(0x3, 0, 1, struct.pack(">I", 8)),
    "ping_and_window": START + frame(0x6, 0, 0, b"12345678")
    + frame(0x8, 0, 0, struct.pack(">I", 100000)) + request(1, "GET", "/b"),
    "priority": START + frame(0x2, 0, 3, struct.pack(">IB", 1, 16)) + request(3, "GET", "/a"),
    "continuation": START + frame(0x1, 0x1, 1, hpack([(":method", "GET"), (":scheme", "http")]))
    + frame(0x9, 0x4, 1, hpack([(":authority", "x"), (":path", "/a")])),
    "trailers": START + request(1, "POST", "/e", end_stream=False) + frame(0x0, 0, 1, b"abc")
    + frame(0x1, 0x5, 1, hpack([("x-trailer", "1")])),
    "bad_ping_length": START + frame(0x6, 0, 0, b"1234567"),
    "goaway_from_client": START + request(1, "GET", "/a") + frame(0x7, 0, 0, struct.pack(">II", 1, 0)),
    "early_reject": START + request(1, "PUT", "/r", [("content-length", "20")], end_stream=False)
    + frame(0x0, 0x1, 1, b"x" * 20),
    "big_headers": START + request(1, "GET", "/a", [("x-big-%d" % i, "v" * 200) for i in range(12)]),
    "short_body_source": START + request(1, "GET", "/s"),
}


def batch_item(meta, body):
    meta = json.dumps(meta).encode()
    return struct.pack(">II", len(meta), len(body)) + meta + body


def frame_header(kind, disposition, id_len, version, meta_len, body_len):
    return struct.pack(">BBHQHQ", kind, disposition, id_len, version, meta_len, body_len)


META = {"producer": "http", "namespace_id": "", "key": "k", "content_type": "application/octet-stream",
        "version_ms": 1700000000000}
ID = "ab" * 32
# The first byte picks the parser (fuzz_wire.cc): 0 batch, 1 bodies request, 2 listing,
# 3 frame meta, 4 frame header, 5 outcomes, 6 cursor.
WIRE = {
    "batch_one": b"\x00" + batch_item(META, b"hello"),
    "batch_two": b"\x00" + batch_item(META, b"a") + batch_item(dict(META, key="k2", branch="main"), b""),
    "batch_truncated": b"\x00" + batch_item(META, b"hello")[:-2],
    "batch_huge_len": b"\x00" + struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + b"{}",
    "bodies": b"\x01" + json.dumps({"entries": [
        {"record_kind": "segment_artifact", "record_id": ID, "version_ms": 5, "size": 10},
        {"record_kind": "inline_artifact", "record_id": ID, "version_ms": 6}]}).encode(),
    "bodies_tombstone": b"\x01" + json.dumps({"entries": [
        {"record_kind": "namespace_tombstone", "record_id": "ns", "version_ms": 5}]}).encode(),
    "listing": b"\x02" + json.dumps({"entries": [
        {"record_kind": "segment_artifact", "record_id": ID, "version_ms": 5, "size": 10},
        {"record_kind": "namespace_tombstone", "record_id": "ns", "version_ms": 4}],
        "next_after": "6261636b66696c6c2f6964782f"}).encode(),
    "listing_end": b"\x02" + b'{"entries":[],"next_after":null,"now":1}',
    "meta": b"\x03" + json.dumps({"producer": "xcode", "namespace_id": "p", "key": "blob/x",
                                  "content_type": "application/json", "branch": "b"}).encode(),
    "frame_present": b"\x04" + frame_header(2, 0, 64, 7, 10, 3),
    "frame_absent": b"\x04" + frame_header(1, 1, 64, 7, 0, 0),
    "frame_fetch": b"\x04" + frame_header(1, 2, 64, 7, 0, 0),
    "frame_bad": b"\x04" + frame_header(1, 9, 0, 7, 1, 1),
    "outcomes": b"\x05" + b'{"outcomes":["applied","ignored_equal","error"]}',
    "cursor": b"\x06" + b"backfill/idx/".hex().encode() + b"00ff",
    "cursor_bad": b"\x06" + b"zz",
}


def write(kind, seeds):
    folder = os.path.join(HERE, "corpus", kind)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("http1", HTTP1)
    write("http2", HTTP2)
    write("wire", WIRE)
