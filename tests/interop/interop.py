"""The Python side of Debrief's Avro interop test (tests/avro_interop.rs).

Uses only fastavro (pinned in requirements.txt), so what it writes and reads is what a
fastavro producer or consumer of the contract writes and reads. fastavro has no single-object
codec, so the single-object header is put together here from fastavro's own fingerprint
(`fastavro.schema.fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")`), as a
fastavro producer has to.

    python tests/interop/interop.py <command> ...

Commands (FRAMING is `single` for the Avro single-object encoding, or `confluent:ID` for the
Confluent wire format: 00 + 4-byte big-endian schema id):
    canonical SCHEMA...               one JSON line per schema file:
                                      {"file", "canonical", "fingerprint" (0x%016x)}
    encode SCHEMA FRAMING IN OUT      IN: one record per line in Avro's JSON encoding;
                                      OUT: one framed binary record per line, in hex
    decode SCHEMA FRAMING IN OUT_JSON OUT_HEX
                                      IN: framed records in hex, one per line; OUT_JSON: each
                                      in Avro's JSON encoding; OUT_HEX: each written again
                                      with FRAMING
    batch FILE                        runs the commands of FILE, one per line (arguments
                                      separated by tabs)
Any error exits non-zero with a message on stderr.
"""

import io
import json
import os
import struct
import sys

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SINGLE_OBJECT_MAGIC = b"\xc3\x01"


def canonical_and_fingerprint(schema):
    canonical = to_parsing_canonical_form(schema)
    # fastavro gives the 8 fingerprint bytes in hex, in wire (little-endian) order.
    wire = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    return canonical, wire


def header(schema, framing):
    if framing == "single":
        return SINGLE_OBJECT_MAGIC + canonical_and_fingerprint(schema)[1]
    if framing.startswith("confluent:"):
        return b"\x00" + struct.pack(">I", int(framing[len("confluent:"):]))
    raise ValueError(f"framing must be single or confluent:ID, not {framing}")


def load_schema(path):
    # parse_schema, not fastavro.schema.load_schema: that one also looks for named types in
    # other files of the folder.
    with open(path, encoding="utf-8") as f:
        return fastavro.parse_schema(json.load(f))


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line.strip()]


def cmd_canonical(files):
    for path in files:
        canonical, wire = canonical_and_fingerprint(load_schema(path))
        number = int.from_bytes(wire, "little")
        print(json.dumps({
            "file": os.path.basename(path),
            "canonical": canonical,
            "fingerprint": f"0x{number:016x}",
        }, ensure_ascii=False))


def encode_one(schema, framing, record):
    buf = io.BytesIO()
    buf.write(header(schema, framing))
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def cmd_encode(schema_path, framing, inp, out):
    schema = load_schema(schema_path)
    # fastavro's reader of Avro's JSON encoding, one record per line.
    text = "\n".join(lines(inp))
    records = list(fastavro.json_reader(io.StringIO(text), schema))
    with open(out, "w", encoding="utf-8") as f:
        for record in records:
            f.write(encode_one(schema, framing, record).hex() + "\n")


def cmd_decode(schema_path, framing, inp, out_json, out_hex):
    schema = load_schema(schema_path)
    head = header(schema, framing)
    records = []
    for line in lines(inp):
        data = bytes.fromhex(line.strip())
        if data[: len(head)] != head:
            raise ValueError(f"header {data[:len(head)].hex()} is not the expected {head.hex()}")
        body = io.BytesIO(data[len(head):])
        records.append(fastavro.schemaless_reader(body, schema, None))
        if body.read(1):
            raise ValueError("bytes left after the record")
    buf = io.StringIO()
    fastavro.json_writer(buf, schema, records)
    with open(out_json, "w", encoding="utf-8") as f:
        f.write(buf.getvalue().strip() + "\n")
    with open(out_hex, "w", encoding="utf-8") as f:
        for record in records:
            f.write(encode_one(schema, framing, record).hex() + "\n")


def main(argv):
    usage = ("usage: interop.py canonical SCHEMA... | encode SCHEMA FRAMING IN OUT"
             " | decode SCHEMA FRAMING IN OUT_JSON OUT_HEX | batch FILE")
    if len(argv) == 2 and argv[0] == "batch":
        for line in lines(argv[1]):
            main(line.split("\t"))
        return
    if not argv:
        sys.exit(usage)
    cmd, args = argv[0], argv[1:]
    if cmd == "canonical":
        cmd_canonical(args)
    elif cmd == "encode" and len(args) == 4:
        cmd_encode(*args)
    elif cmd == "decode" and len(args) == 5:
        cmd_decode(*args)
    else:
        sys.exit(usage)


if __name__ == "__main__":
    main(sys.argv[1:])
