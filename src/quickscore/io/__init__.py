"""Reading model files into the IR.

:func:`read_document` takes a path, bytes or a binary file object, finds the format from
the content (or takes ``format=``) and hands the bytes to that format's reader. Formats
are rows of ``FORMATS``: a name, a sniffer over the first bytes, and a reader over an
iterator of byte chunks. Native formats (io/native) add rows there.
"""

from __future__ import annotations

import os
from typing import IO, Callable, Iterator, NamedTuple, Union

from quickscore.errors import InvalidMarkup
from quickscore.ir import Document

__all__ = ["read_document", "register_format", "refuse_options", "Format", "FORMATS", "Source"]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

CHUNK_SIZE = 1 << 20  # bytes handed to a reader at a time
SNIFF_SIZE = 4096  # bytes a sniffer sees (fewer if the document is shorter)


class Format(NamedTuple):
    name: str
    sniff: Callable[[bytes], bool]  # the first bytes -> is it this format?
    # (chunks, source name, options) -> Document. ``options`` holds the reader options that
    # load() was given and are not None (e.g. ``iterations``, ``feature_map``); a reader
    # refuses, with ValueError, an option it does not know.
    read: Callable[[Iterator[bytes], "str | None", dict], Document]
    # Optional: (path, source name, options) -> Document, used instead of ``read`` when the
    # source is a path (e.g. to map a big file rather than read it in chunks).
    read_path: "Callable[[str, str | None, dict], Document] | None" = None


def _strip_bom_and_blanks(head: bytes) -> bytes:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom):]
            if codec != "utf-8":
                head = head[: len(head) // 2 * 2].decode(codec, "replace").encode("utf-8", "replace")
            break
    else:
        if head[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without BOM
            codec = "utf-16-le" if head[0:1] == b"<" else "utf-16-be"
            head = head[: len(head) // 2 * 2].decode(codec, "replace").encode("utf-8", "replace")
    return head.lstrip(b" \t\r\n")


def sniff_xml(head: bytes) -> bool:
    """XML starts (after a BOM and blanks) with '<'."""
    return _strip_bom_and_blanks(head).startswith(b"<")


def _read_pmml(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    from quickscore.io.pmml import read_pmml

    refuse_options("pmml", options)
    return read_pmml(chunks, source_name)


def refuse_options(format_name: str, options: dict, known: tuple[str, ...] = ()) -> None:
    """Raise ValueError naming the reader options that ``format_name`` does not take."""
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        raise ValueError(
            f"The {format_name} reader does not take the option(s) {', '.join(unknown)}"
            + (f" (it takes: {', '.join(known)})" if known else "")
        )


def _sniff_qsm(head: bytes) -> bool:
    from quickscore.io.qsm import sniff_qsm

    return sniff_qsm(head)


def _read_qsm(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    from quickscore.io.qsm import read_qsm

    return read_qsm(chunks, source_name, options)


def _read_qsm_path(path: str, source_name: str | None, options: dict) -> Document:
    from quickscore.io.qsm import read_qsm_path

    return read_qsm_path(path, source_name, options)


#: Format table, tried in order. PMML is XML; a compiled model (``quickscore compile``) is
#: "qsm"; native formats are registered by io/native.
FORMATS: list[Format] = [Format("pmml", sniff_xml, _read_pmml), Format("qsm", _sniff_qsm, _read_qsm, _read_qsm_path)]


def register_format(fmt: Format) -> None:
    """Add (or replace, by name) a row of the format table."""
    for i, f in enumerate(FORMATS):
        if f.name == fmt.name:
            FORMATS[i] = fmt
            return
    FORMATS.append(fmt)


def _open(source: Source) -> tuple[Iterator[bytes], str | None, Callable[[], None]]:
    """(chunk iterator, source name, close) for any accepted source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)

        def it() -> Iterator[bytes]:
            view = memoryview(data)
            for i in range(0, len(data), CHUNK_SIZE):
                yield bytes(view[i : i + CHUNK_SIZE])

        return it(), None, lambda: None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        f = open(path, "rb")  # noqa: SIM115 - closed by the caller
        return _file_chunks(f), path, f.close
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(
            f"read_document() takes a path, bytes or a binary file object, not {type(source).__name__}"
        )
    name = getattr(source, "name", None)
    return _file_chunks(source), name if isinstance(name, str) else None, lambda: None


def _file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = f.read(CHUNK_SIZE)
        if not chunk:
            return
        if isinstance(chunk, str):
            raise TypeError("read_document() needs a binary file object (open the file with 'rb')")
        yield chunk


_native_registered = False


def _register_native() -> None:
    """Import io/native once: it adds the native formats' rows to ``FORMATS``."""
    global _native_registered
    if not _native_registered:
        _native_registered = True
        import quickscore.io.native  # noqa: F401


def read_document(source: Source, *, format: str | None = None, **options: object) -> Document:
    """Read a model document into a :class:`quickscore.ir.Document`.

    ``source`` is a path (``str`` or path-like), ``bytes``, or a binary file object.
    The format is found from the content; ``format="pmml"`` (or another name in
    ``FORMATS``) forces one. Raises :class:`quickscore.errors.InvalidMarkup` for content
    that is not a readable document and :class:`quickscore.errors.UnsupportedMarkup` for
    a valid document using something quickscore does not implement. ``options`` go to the
    format's reader (None values are dropped); a reader refuses options it does not know.
    """
    options = {k: v for k, v in options.items() if v is not None}
    chunks, name, close = _open(source)
    try:
        head, chunks = _peek(chunks)
        where = f" ({name})" if name else ""
        if format is not None:
            fmt = next((f for f in FORMATS if f.name == format), None)
            if fmt is None:
                _register_native()
                fmt = next((f for f in FORMATS if f.name == format), None)
            if fmt is None:
                known = ", ".join(f.name for f in FORMATS)
                raise ValueError(f"Unknown format {format!r}; known formats: {known}")
        else:
            if not head.strip():
                raise InvalidMarkup(f"Not a PMML document: the content is empty{where}")
            # PMML and compiled models first: io/native is imported only for other content
            # (its sniffers never match XML or the .qsm magic).
            fmt = next((f for f in FORMATS if f.sniff(head)), None)
            if fmt is None:
                _register_native()
                fmt = next((f for f in FORMATS if f.sniff(head)), None)
            if fmt is None:
                raise InvalidMarkup(
                    f"Not a PMML document (nor another known model format){where}: the content "
                    f"starts with {head[:40]!r}"
                )
        if fmt.read_path is not None and isinstance(source, (str, os.PathLike)):
            close()
            return fmt.read_path(os.fspath(source) if not isinstance(os.fspath(source), bytes) else os.fsdecode(source), name, options)
        return fmt.read(chunks, name, options)
    finally:
        close()


def _peek(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first SNIFF_SIZE bytes, and an iterator that still yields everything."""
    first: list[bytes] = []
    size = 0
    for chunk in chunks:
        first.append(chunk)
        size += len(chunk)
        if size >= SNIFF_SIZE:
            break
    head = b"".join(first)[:SNIFF_SIZE]

    def rest() -> Iterator[bytes]:
        yield from first
        yield from chunks

    return head, rest()
