"""A small, safe Universal Binary JSON (UBJSON) decoder, for XGBoost's ``.ubj`` models.

UBJSON (https://ubjson.org, draft 12): every value starts with a one-byte type marker;
numbers are big-endian; ``[``/``{`` open containers closed by ``]``/``}``, or carry
``$`` (one element type) and ``#`` (a count), in which case no closing marker follows and,
with ``$``, the elements have no markers of their own. Object keys are strings without the
``S`` marker.

Safety: the decoder is iterative (an explicit stack, ``MAX_DEPTH`` levels at most), every
length and count is checked against the bytes that remain before anything is allocated,
and typed numeric arrays are read with ``numpy.frombuffer`` (no per-element Python work).
Malformed input raises :class:`UBJSONError` naming the byte offset.
"""

from __future__ import annotations

import struct

import numpy as np

MAX_DEPTH = 64

# marker -> (struct format, size) of the fixed-size scalars
_SCALARS = {
    b"i": (">b", 1),
    b"U": (">B", 1),
    b"I": (">h", 2),
    b"l": (">i", 4),
    b"L": (">q", 8),
    b"d": (">f", 4),
    b"D": (">d", 8),
}
# marker -> numpy dtype of typed arrays
_DTYPES = {
    b"i": np.dtype(">i1"),
    b"U": np.dtype(">u1"),
    b"I": np.dtype(">i2"),
    b"l": np.dtype(">i4"),
    b"L": np.dtype(">i8"),
    b"d": np.dtype(">f4"),
    b"D": np.dtype(">f8"),
}
_INT_MARKERS = (b"i", b"U", b"I", b"l", b"L")


class UBJSONError(ValueError):
    """The content is not well-formed UBJSON."""


class _Reader:
    __slots__ = ("data", "n", "pos")

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0
        self.n = len(data)

    def fail(self, what: str) -> UBJSONError:
        return UBJSONError(f"{what} at byte {self.pos}")

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > self.n:
            raise self.fail(f"truncated: {size} more bytes needed, {self.n - self.pos} left")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def marker(self) -> bytes:
        while True:
            m = bytes(self.take(1))
            if m != b"N":  # no-op
                return m

    def scalar(self, m: bytes):
        fmt, size = _SCALARS[m]
        return struct.unpack(fmt, self.take(size))[0]

    def length(self, m: bytes | None = None) -> int:
        m = self.marker() if m is None else m
        if m not in _INT_MARKERS:
            raise self.fail(f"a length must be an integer, not the marker {m!r}")
        n = self.scalar(m)
        if n < 0:
            raise self.fail(f"negative length {n}")
        return n

    def string(self) -> str:
        size = self.length()
        raw = self.take(size)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            raise self.fail("a string that is not UTF-8") from None

    def value_of(self, m: bytes):
        """A scalar value whose marker was read (not a container)."""
        if m in _SCALARS:
            return self.scalar(m)
        if m == b"S":
            return self.string()
        if m == b"H":  # high-precision number, as a string
            text = self.string()
            try:
                return float(text) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                raise self.fail(f"bad high-precision number {text!r}") from None
        if m == b"C":
            return chr(self.take(1)[0])
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        raise self.fail(f"unknown type marker {m!r}")


def decode(data: bytes) -> object:
    """The value encoded by ``data`` (dicts, lists, numpy arrays for typed numeric arrays)."""
    r = _Reader(data)
    # Each open container: [kind, value, remaining count or -1, element type or None, pending key]
    stack: list[list] = []
    result = _SENTINEL = object()

    def open_container(m: bytes):
        etype = None
        count = -1
        if r.pos < r.n and r.data[r.pos : r.pos + 1] == b"$":
            r.pos += 1
            etype = bytes(r.take(1))
            if r.pos >= r.n or bytes(r.take(1)) != b"#":
                raise r.fail("a typed container without a count")
            count = r.length()
        elif r.pos < r.n and r.data[r.pos : r.pos + 1] == b"#":
            r.pos += 1
            count = r.length()
        if count > r.n - r.pos and etype not in (b"T", b"F", b"Z"):
            # every element takes at least one byte (typed T/F/Z elements take none)
            raise r.fail(f"count {count} exceeds the {r.n - r.pos} bytes left")
        if m == b"[" and etype in _DTYPES:
            dt = _DTYPES[etype]
            raw = r.take(count * dt.itemsize)
            return False, np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))
        if m == b"[" and etype in (b"T", b"F", b"Z"):
            return False, [r.value_of(etype)] * count
        if len(stack) >= MAX_DEPTH:
            raise r.fail(f"nesting deeper than {MAX_DEPTH} levels")
        frame = [m, {} if m == b"{" else [], count, etype, None]
        stack.append(frame)
        return True, frame

    def element_marker(frame) -> bytes:
        return frame[3] if frame[3] is not None else r.marker()

    while True:
        if not stack:
            if result is not _SENTINEL:
                break
            m = r.marker()
            if m in (b"[", b"{"):
                is_frame, opened = open_container(m)
                if not is_frame:
                    result = opened
                continue
            result = r.value_of(m)
            break
        frame = stack[-1]
        kind, _, count, _, _ = frame
        # Is the container complete?
        done = False
        if count >= 0:
            done = count == 0
        else:
            if r.pos >= r.n:
                raise r.fail("truncated: a container is not closed")
            nxt = bytes(r.data[r.pos : r.pos + 1])
            if nxt == b"N":
                r.pos += 1
                continue
            if (kind == b"[" and nxt == b"]") or (kind == b"{" and nxt == b"}"):
                r.pos += 1
                done = True
        if done:
            stack.pop()
            value = frame[1]
            if stack:
                _store(stack[-1], value)
            else:
                result = value
            continue
        if kind == b"{":
            key = r.string()
            frame[4] = key
        if count > 0:
            frame[2] = count - 1
        m = element_marker(frame)
        if m in (b"[", b"{"):
            is_frame, opened = open_container(m)
            if not is_frame:
                _store(frame, opened)
            continue
        if m in (b"]", b"}"):
            raise r.fail(f"unexpected {m!r}")
        _store(frame, r.value_of(m))
    if r.pos != r.n:
        rest = bytes(r.data[r.pos : r.n]).strip(b"N")
        if rest:
            raise r.fail("trailing bytes after the value")
    return result


def _store(frame: list, value: object) -> None:
    if frame[0] == b"{":
        frame[1][frame[4]] = value
    else:
        frame[1].append(value)
