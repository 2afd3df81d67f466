#!/usr/bin/env python3
"""Writes the crafted checkpoint archives of tests/data/hostile/pth_*.pth that issue 16's attack on
the zip container found (standard library only; run from the repository root:
python3 tests/data/make_hostile_archives.py). Each is the state dict of
tests/fuzz/corpus/zip/state-dict.pth (a torch.save layout: archive/data.pkl, archive/data/0..3,
archive/version) with one fault; tests/data/README.md lists them and the tests expect the exact
message each gives. Entries carry a fixed date so that the bytes do not change between runs.
"""
import io
import struct
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests/data/hostile"
SEEDS = ROOT / "tests/fuzz/corpus/zip"

with zipfile.ZipFile(SEEDS / "state-dict.pth") as source:
    RECORDS = [(info.filename, source.read(info)) for info in source.infolist()]


def archive(records, methods=None):
    """A zip of (name, bytes) records, each stored unless `methods` names its compression."""
    methods = methods or {}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name, which is the point
        with zipfile.ZipFile(buffer, "w") as z:
            for name, data in records:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = methods.get(name, zipfile.ZIP_STORED)
                z.writestr(info, data)
    return bytearray(buffer.getvalue())


def data_offset(zip_bytes, name):
    """Where the data of record `name` starts (after its local header)."""
    with zipfile.ZipFile(io.BytesIO(bytes(zip_bytes))) as z:
        offset = z.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<HH", zip_bytes, offset + 26)
    return offset + 30 + name_length + extra_length


def write(name, data):
    (HOSTILE / name).write_bytes(bytes(data))
    (SEEDS / ("hostile-" + name[len("pth_"):].replace("_", "-"))).write_bytes(bytes(data))


# A deflated data.pkl whose stream begins with a block of the reserved type 3: it cannot inflate.
deflated = archive(RECORDS, {"archive/data.pkl": zipfile.ZIP_DEFLATED})
deflated[data_offset(deflated, "archive/data.pkl")] = 0x07
write("pth_deflate_corrupt.pth", deflated)

# A second archive/data.pkl after the first (an empty dict): which one is read depends on the reader.
write("pth_record_twice.pth", archive(RECORDS + [("archive/data.pkl", b"\x80\x02}q\x00.")]))

# One byte of the storage archive/data/0 changed after its CRC-32 was written: silent garbage.
changed = archive(RECORDS)
changed[data_offset(changed, "archive/data/0") + 5] ^= 0x40
write("pth_crc_mismatch.pth", changed)

# The end of central directory declares a comment of 100 bytes that the file does not hold.
comment = archive(RECORDS)
struct.pack_into("<H", comment, len(comment) - 2, 100)
write("pth_eocd_comment_too_long.pth", comment)

# Saved on a big-endian machine (torch.save's byteorder record, PyTorch 2.0 on).
write("pth_byteorder_big.pth", archive(RECORDS + [("archive/byteorder", b"big")]))

# A second top-level folder holding another data.pkl.
write("pth_two_folders.pth", archive(RECORDS + [("evil/data.pkl", b"\x80\x02}q\x00.")]))

# data.pkl compressed with bzip2 (zip method 12), which LibTorch's reader does not know.
write("pth_bzip2_record.pth", archive(RECORDS, {"archive/data.pkl": zipfile.ZIP_BZIP2}))
