#!/usr/bin/env python3
"""Writes the seed corpora of verify/fuzz/corpus/ (docs/verification.md).

The seeds are small, valid (or nearly valid) inputs that show each fuzzer
the shape of what it reads, so that it starts from the interesting paths
instead of rediscovering the wire format. Run it after changing a seed;
the files it writes are checked in.

    python3 verify/fuzz/make_seeds.py
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def slot(tag, payload, length=None, flags=0):
    """One 64-byte ring slot: u16 tag, u16 length, u32 flags, 56 bytes payload."""
    length = len(payload) if length is None else length
    body = payload + bytes(56 - len(payload))
    return struct.pack("<HHI", tag, length, flags) + body


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


def contract_seeds():
    # A few real contracts (good and deliberately bad) of the tree.
    for path in ["contracts/testdata/good/pingpong.contract",
                 "contracts/testdata/good/language-tour.contract",
                 "contracts/testdata/bad/E0030-mixed-directions.contract",
                 "contracts/testdata/bad/several-errors.contract",
                 "verify/contracts-broken/deadlock-diverging-choice.contract",
                 # The second round's language (issue 16): sequences,
                 # extension, a race, hanging up, sub-protocols, entries.
                 "tests/generated/contracts/sequences.contract",
                 "contracts/testdata/good/extension.contract",
                 "contracts/testdata/bad/E0052-race.contract",
                 "tests/generated/contracts/closes.contract",
                 "tests/generated/contracts/subprotocols.contract",
                 "tests/generated/contracts/entries.contract"]:
        directory = os.path.join(CORPUS, "fuzz_contract")
        os.makedirs(directory, exist_ok=True)
        shutil.copy(os.path.join(ROOT, path), os.path.join(directory, os.path.basename(path)))


def limits():
    """The constants of codegen/limits.hpp, so that the seeds follow them."""
    import re
    with open(os.path.join(ROOT, "codegen", "limits.hpp")) as header:
        text = header.read()
    return {name: int(value) for name, value in
            re.findall(r"inline constexpr std::uint32_t (\w+) = (\d+);", text)}


def large_contract_seeds():
    # Large inputs (issue 14): libFuzzer mutates from what it is given, and
    # left to grow small seeds it does not reach milkc's limits in a CI run.
    limit = limits()
    depth = limit["max_nesting_depth"]

    # Every count limit reached at once (as tests/codegen/scale_contracts.cpp
    # writes it for milkc.scale.at-limits, in a smaller variety).
    lines = ["package fuzz.limits;", ""]
    members = limit["max_enum_members"]
    enums = (members + 255) // 256
    for e in range(enums):
        count = min(256, members - 256 * e)
        lines.append("enum Kind%d : u16 { %s }" % (e, ", ".join("k%d = %d" % (m, m + 1) for m in range(count))))
    lines.append("struct N0 { u8 leaf; Kind0 kind; }")
    for i in range(1, depth):
        lines.append("struct N%d { N%d inner; u8%s pad; }" % (i, i - 1, "[1]" * i))
    fillers = limit["max_declarations"] - enums - depth - 1
    for f in range(fillers):
        lines.append("// Filler %d." % f)
        lines.append("struct F%d { u32 a; Kind%d d; u8[3][2] e; }" % (f, f % enums))
    lines.append("contract Limits {")
    messages, states, transitions = limit["max_messages"], limit["max_states"], limit["max_transitions"]
    for m in range(messages):
        fields = ["N%d deepest" % (depth - 1), "u8%s cells, bytes data" % ("[1]" * depth),
                  "F%d filler" % (m % fillers), ""][m % 4]
        lines.append("  message M%d(%s);" % (m, fields))
    per_state = transitions // states
    half = messages // 2
    for st in range(states):
        client = st % 2 == 0
        lines.append("  %sstate S%d {" % ("initial " if st == 0 else "", st))
        for t in range(per_state):
            message = (0 if client else half) + (st // 2 * per_state + t) % half
            target = "end" if st + 1 == states and t == 0 else "S%d" % ((st + 1 + 2 * t) % states)
            lines.append("    %s M%d -> %s;" % ("send" if client else "recv", message, target))
        lines.append("  }")
    lines.append("}")
    write("fuzz_contract", "large-at-limits.contract", ("\n".join(lines) + "\n").encode())

    # Long doc comments (they used to take quadratic time).
    doc = "".join("// Documentation line %d of a long comment.\n" % i for i in range(600))
    write("fuzz_contract", "large-doc-comments.contract",
          ("package fuzz.docs;\n" + doc + "struct Documented { u32 value; }\n" + doc +
           "contract C {\n" + doc + "  message M(Documented d);\n  initial state A { send M -> end; }\n}\n").encode())

    # Over the limits: a long chain of structs (E0071) and types one level
    # too deep (E0070).
    chain = "".join("struct C%d { C%d inner; }\n" % (i, i - 1) for i in range(1, limit["max_declarations"] + 8))
    write("fuzz_contract", "large-over-limits.contract",
          ("package fuzz.chain;\nstruct C0 { u8 leaf; }\n" + chain).encode())
    write("fuzz_contract", "large-too-deep.contract",
          ("package fuzz.deep;\nstruct D { u8%s cells; }\ncontract C {\n  message M(u64 a, u8%s b);\n"
           "  initial state A { send M -> end; }\n}\n" % ("[1]" * (depth + 1), "[1]" * depth)).encode())

    # Bytes that start no token and are not UTF-8, on one line, and in comments.
    noise = bytes((i * 37 + 11) % 256 for i in range(16384))
    write("fuzz_contract", "large-bad-bytes.contract", b"package fuzz.noise;\n// " + noise.replace(b"\n", b" ") + b"\n" + noise)


def decoder_seeds():
    # tests/generated/contracts/shapes.contract, server side in state Open.
    # Segment {Vec from; Vec to; Color color; bool visible} = 10 bytes.
    segment = struct.pack("<hhhhBB", 1, 2, 3, 4, 1, 1)
    draw = segment + bytes([1, 2, 4]) + bytes([0, 1]) + b"\0" + struct.pack("<hhhh", 5, 6, 7, 8) + b"wxyz"
    mark = (struct.pack("<BxH", 7, 300).ljust(8, b"\0") + struct.pack("<Q", 1) + struct.pack("<I", 4000000000).ljust(8, b"\0")
            + struct.pack("<d", 1.5) + struct.pack("<f", 0.5).ljust(8, b"\0") + struct.pack("<q", -1) + bytes([9]).ljust(8, b"\0"))
    blob_empty = struct.pack("<IIBxxxII", 0, 0, 3, 0, 0)
    done = bytes([1])
    write("fuzz_decoder", "draw-done", slot(1, draw) + slot(4, done))
    write("fuzz_decoder", "mark-blob", slot(2, mark) + slot(3, blob_empty))
    write("fuzz_decoder", "blob-handles", slot(3, struct.pack("<IIBxxxII", 0, 100, 1, 4096, 4096)))
    write("fuzz_decoder", "bad-enum", slot(1, draw[:10] + bytes([3]) + draw[11:]))


def heap_seeds():
    def op(code, offset, length):
        return struct.pack("<BII", code, offset, length)
    write("fuzz_heap", "allocate-import", op(0, 0, 99) + op(2, 0, 1) + op(3, 0, 0) + op(2, 0, 1))
    write("fuzz_heap", "raw-imports", op(1, 0, 64) + op(1, 0xFFFFFFF0, 0x20) + op(1, 65536, 16) + op(1, 0, 0))
    write("fuzz_heap", "double-import", op(0, 0, 4095) + op(2, 0, 1) + op(2, 0, 1) + op(2, 0, 0) + op(3, 0, 0))


def kstub_seeds():
    # tests/kstub/kstub_test.contract, contract Files: states Idle=0,
    # Opening=1, Ready=2, end=3; byte 1 bit 0 = server side, bit 1 = pool.
    def case(state, side_bits, base, size, the_slot, extra=b""):
        return bytes([state, side_bits]) + struct.pack("<QQ", base, size) + the_slot + extra
    open_msg = struct.pack("<III", 7, 64, 16) + bytes([1])  # id, name {offset, length}, mode
    write("fuzz_kstub", "open", case(0, 3, 0, 4096, slot(1, open_msg, length=16), bytes([4])))
    write("fuzz_kstub", "opened", case(1, 0, 0, 0, slot(2, struct.pack("<II", 5, 4000000000))))
    cell = bytes([2, 1, 0, 1]) + struct.pack("<hhBx", 1, 2, 1) + struct.pack("<hhBx", 3, 4, 0)
    write("fuzz_kstub", "shape", case(2, 1, 0, 0, slot(4, cell + cell + struct.pack("<H", 2))))
    write("fuzz_kstub", "wrapping-handle", case(0, 3, 0, 4096, slot(1, struct.pack("<III", 1, 0xFFFFFFF0, 0x20) + bytes([1]), length=16)))


if __name__ == "__main__":
    contract_seeds()
    large_contract_seeds()
    decoder_seeds()
    heap_seeds()
    kstub_seeds()
