"""A strict reader of MAT-file version 5 (MATLAB ``-v7`` and older, scipy's ``savemat``) for files
we do not trust.

scipy.io.loadmat parses in C and a one-byte change to a file can crash the process (SIGSEGV);
this reader is plain Python and numpy on bounds-checked slices, so a malformed file can only
raise :class:`MatFileError`. It reads only the variables asked for, and only numeric and
character arrays; anything else it skips unparsed. Sizes are checked before anything is
allocated or decompressed (``max_values``), so a forged dimension cannot exhaust memory.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

HEADER_BYTES = 128
MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32 = 1, 2, 3, 4, 5, 6
MI_SINGLE, MI_DOUBLE, MI_INT64, MI_UINT64 = 7, 9, 12, 13
MI_MATRIX, MI_COMPRESSED, MI_UTF8, MI_UTF16, MI_UTF32 = 14, 15, 16, 17, 18
NUMERIC_TYPES = {
    MI_INT8: "i1",
    MI_UINT8: "u1",
    MI_INT16: "i2",
    MI_UINT16: "u2",
    MI_INT32: "i4",
    MI_UINT32: "u4",
    MI_SINGLE: "f4",
    MI_DOUBLE: "f8",
    MI_INT64: "i8",
    MI_UINT64: "u8",
}
CHAR_CLASS = 4
NUMERIC_CLASSES = range(6, 16)  # double, single, int8 … uint64
CLASS_NAMES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 16: "function", 17: "opaque"}
COMPLEX_FLAG = 0x08
MAX_DIMS = 32
HEADER_PEEK = 1024  # bytes decompressed to read a compressed variable's name and size


class MatFileError(ValueError):
    """The file is not a readable MAT-5 file (the message says where and why)."""


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@dataclass
class _Header:
    """A matrix element's array flags, dimensions and name; ``body`` starts after the name."""

    mclass: int
    flags: int
    dims: tuple[int, ...]
    name: str
    body: int

    @property
    def count(self) -> int:
        count = 1
        for d in self.dims:
            count *= d
        return count


class _Reader:
    def __init__(self, endian: str) -> None:
        self.endian = endian

    def u32(self, buf: bytes | memoryview, pos: int) -> int:
        if pos + 4 > len(buf):
            raise MatFileError(f"truncated at byte {pos}")
        return struct.unpack_from(self.endian + "I", buf, pos)[0]

    def tag(self, buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int, int, int]:
        """(type, data start, data length, next element) of the element at ``pos`` (ends by ``end``)."""
        if pos + 8 > end:
            raise MatFileError(f"truncated element tag at byte {pos}")
        first = self.u32(buf, pos)
        if first >> 16:  # small data element: type and length in one word, data in the next 4 bytes
            mtype, nbytes = first & 0xFFFF, first >> 16
            if nbytes > 4:
                raise MatFileError(f"small data element at byte {pos} claims {nbytes} bytes (at most 4)")
            return mtype, pos + 4, nbytes, pos + 8
        nbytes = self.u32(buf, pos + 4)
        start = pos + 8
        if start + nbytes > end:
            raise MatFileError(f"element at byte {pos} claims {nbytes} bytes, only {end - start} remain")
        return first, start, nbytes, start + nbytes + (-nbytes % 8)

    def header(self, buf: bytes | memoryview, pos: int, end: int) -> _Header:
        """Array flags, dimensions and name of the matrix element whose content spans [pos, end)."""
        mtype, start, nbytes, pos = self.tag(buf, pos, end)
        if mtype != MI_UINT32 or nbytes != 8:
            raise MatFileError(f"array flags at byte {start - 8} must be 8 bytes of uint32")
        word = self.u32(buf, start)
        mclass, flags = word & 0xFF, (word >> 8) & 0xFF
        mtype, start, nbytes, pos = self.tag(buf, pos, end)
        if mtype != MI_INT32 or nbytes % 4 or not 8 <= nbytes <= 4 * MAX_DIMS:
            raise MatFileError(f"dimensions at byte {start - 8} must be 2 to {MAX_DIMS} int32 values")
        dims = struct.unpack_from(f"{self.endian}{nbytes // 4}i", buf, start)
        if min(dims) < 0:
            raise MatFileError(f"negative dimension {dims} at byte {start}")
        mtype, start, nbytes, pos = self.tag(buf, pos, end)
        if mtype not in (MI_INT8, MI_UINT8) or nbytes > 63:
            raise MatFileError(f"array name at byte {start - 8} must be at most 63 characters of int8")
        try:
            name = bytes(buf[start : start + nbytes]).decode("ascii")
        except UnicodeDecodeError as err:
            raise MatFileError(f"array name at byte {start} is not ASCII") from err
        return _Header(mclass, flags, tuple(dims), name, pos)

    def value(self, buf: bytes | memoryview, head: _Header, end: int) -> np.ndarray | str:
        """The numeric array (float64, shaped, column-major as stored) or the string of ``head``."""
        label = repr(head.name)
        if head.flags & COMPLEX_FLAG:
            raise MatFileError(f"{label} is complex; a real array is required")
        mtype, start, nbytes, _ = self.tag(buf, head.body, end)
        if head.mclass == CHAR_CLASS:
            return self._text(buf[start : start + nbytes], mtype, label)
        if head.mclass not in NUMERIC_CLASSES:
            kind = CLASS_NAMES.get(head.mclass, f"class {head.mclass}")
            raise MatFileError(f"{label} is a {kind} array; a numeric array is required")
        if mtype not in NUMERIC_TYPES:
            raise MatFileError(f"{label} stores its values as data type {mtype}, not a numeric type")
        dtype = np.dtype(NUMERIC_TYPES[mtype]).newbyteorder(self.endian)
        if nbytes != head.count * dtype.itemsize:
            raise MatFileError(
                f"{label} has dimensions {head.dims} ({head.count} values) but {nbytes} bytes of {dtype.name}"
            )
        values = np.frombuffer(buf, dtype=dtype, count=head.count, offset=start).astype(np.float64)
        return values.reshape(head.dims, order="F")

    def _text(self, raw: bytes | memoryview, mtype: int, label: str) -> str:
        codecs = {
            MI_UINT16: "utf-16-le" if self.endian == "<" else "utf-16-be",
            MI_UTF16: "utf-16-le" if self.endian == "<" else "utf-16-be",
            MI_UINT8: "latin-1",
            MI_INT8: "latin-1",
            MI_UTF8: "utf-8",
        }
        if mtype not in codecs:
            raise MatFileError(f"{label} is a char array stored as data type {mtype}")
        try:
            return bytes(raw).decode(codecs[mtype])
        except UnicodeDecodeError as err:
            raise MatFileError(f"{label} holds undecodable text") from err


def _endian(data: bytes) -> str:
    if len(data) < HEADER_BYTES:
        raise MatFileError(f"only {len(data)} bytes; a MAT-file has a {HEADER_BYTES}-byte header")
    text = data[:116]
    if text.startswith(b"MATLAB 7.3") or data[:8] == b"\x89HDF\r\n\x1a\n" or data[512:520] == b"\x89HDF\r\n\x1a\n":
        raise MatFileError("a MATLAB v7.3 (HDF5) file; save it with save(..., '-v7') or scipy.io.savemat")
    marker = data[126:128]
    if marker not in (b"IM", b"MI"):
        raise MatFileError("not a MAT-file version 5 (no 'IM'/'MI' endian marker at byte 126)")
    endian = "<" if marker == b"IM" else ">"
    version = struct.unpack_from(endian + "H", data, 124)[0]
    if version != 0x0100:
        raise MatFileError(f"MAT-file version {version:#06x} is not supported (version 5 = 0x0100)")
    return endian


def _inflate(comp: memoryview, limit: int, label: str) -> bytes:
    """At most ``limit`` bytes of the zlib stream ``comp``."""
    try:
        return zlib.decompressobj().decompress(comp, limit)
    except zlib.error as err:
        raise MatFileError(f"{label}: corrupt compressed data ({err})") from err


def read_mat5(data: bytes, names: set[str], max_values: int) -> dict[str, np.ndarray | str]:
    """The variables ``names`` that ``data`` (a whole MAT-5 file) holds; others are skipped.

    Raises :class:`MatFileError` on anything malformed, on a variable that is not a real numeric
    or char array, on a name that appears twice, and on a variable of more than ``max_values``
    values (before reading it)."""
    reader = _Reader(_endian(data))
    buf = memoryview(data)
    found: dict[str, np.ndarray | str] = {}
    pos = HEADER_BYTES
    while pos < len(buf):
        if len(buf) - pos < 8 and not any(buf[pos:]):
            break  # trailing padding
        mtype, start, nbytes, _ = reader.tag(buf, pos, len(buf))
        nxt = start + nbytes
        if mtype == MI_COMPRESSED:
            label = f"compressed element at byte {pos}"
            peek = _inflate(buf[start:nxt], HEADER_PEEK, label)
            inner, istart, inbytes, _ = reader.tag(peek, 0, 8 + (1 << 32))
            if inner != MI_MATRIX:
                raise MatFileError(f"{label} holds data type {inner}, not a matrix")
            head = reader.header(peek, istart, len(peek))
            if head.name in names:
                _check_size(head, max_values)
                if inbytes > head.body + 8 * head.count + 64:
                    raise MatFileError(f"{head.name!r}: element claims {inbytes} bytes for {head.count} values")
                whole = _inflate(buf[start:nxt], 8 + inbytes, label)
                if len(whole) < 8 + inbytes:
                    raise MatFileError(f"{label} ({head.name!r}) is truncated")
                _store(found, head.name, reader.value(whole, head, 8 + inbytes))
        elif mtype == MI_MATRIX:
            if nbytes == 0:  # an empty placeholder element
                pos = nxt
                continue
            head = reader.header(buf, start, nxt)
            if head.name in names:
                _check_size(head, max_values)
                _store(found, head.name, reader.value(buf, head, nxt))
        else:
            raise MatFileError(f"top-level element at byte {pos} has data type {mtype} (a matrix is required)")
        pos = nxt
    return found


def _check_size(head: _Header, max_values: int) -> None:
    if head.count > max_values:
        raise MatFileError(
            f"{head.name!r} has dimensions {'×'.join(map(str, head.dims))} = {head.count} values, which would "
            f"need {format_bytes(8.0 * head.count)}; at most {max_values} values are read"
        )


def _store(found: dict, name: str, value: np.ndarray | str) -> None:
    if name in found:
        raise MatFileError(f"variable {name!r} appears twice")
    found[name] = value
