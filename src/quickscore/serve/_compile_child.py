"""The child process that compiles a big model file for a serving worker's hot reload.

    python -m quickscore.serve._compile_child MODEL QSM META INO SIZE MTIME_NS

Reading a 90 MB forest PMML takes seconds of Python that holds the GIL; in the worker's loader
thread that starves the worker's event loop (requests answered 25-100 ms late, again and again,
for the whole load). Here the file is read and lowered in a process of its own and written as a ``.qsm`` file (``io.qsm.write_qsm``), which the worker then loads in a
fraction of a second.

The child reads MODEL only if its (inode, size, mtime_ns) are still the ones the worker saw
(INO SIZE MTIME_NS), compiles those bytes to QSM, and writes META last (a JSON object, written
under a temporary name and renamed): ``{"sha256": ..., "size": ...}`` when QSM was written, or
``{"error": "..."}`` when the file did not load (the message a load would have raised). Exit
status 0 in both cases; anything else (a crash, a kill) leaves no META, and the worker reports
the exit status and the last line the child wrote to stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

NICE = 0
"""Added to the child's nice value. Not lowered: in the soak (the CPU saturated by the load) a
child at nice 10 took 26-41 s to compile the forest instead of ~10 s, longer than the 20 s
between its reloads; at the workers' own priority it competes for a CPU like any process,
without holding the worker's GIL."""


def _write_meta(meta: str, content: dict) -> None:
    partial = meta + ".part"
    with open(partial, "w") as handle:
        json.dump(content, handle)
    os.replace(partial, meta)


def main(argv: list[str]) -> int:
    if len(argv) != 6:
        print("usage: python -m quickscore.serve._compile_child MODEL QSM META INO SIZE MTIME_NS", file=sys.stderr)
        return 2
    path, qsm, meta = argv[:3]
    expected = tuple(int(x) for x in argv[3:])
    if NICE:
        try:
            os.nice(NICE)
        except OSError:  # pragma: no cover - not allowed here: compile at the same priority
            pass
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        if (st.st_ino, st.st_size, st.st_mtime_ns) != expected:
            _write_meta(meta, {"error": "the file changed while it was being compiled (it is loaded again)"})
            return 0
        data = handle.read()
    from quickscore.io.qsm import write_qsm

    try:
        write_qsm(data, qsm, source_name=os.path.basename(path))
    except Exception as exc:  # noqa: BLE001 - any load error is the file's: reported as a load would report it
        _write_meta(meta, {"error": str(exc), "type": type(exc).__name__})
        return 0
    _write_meta(meta, {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
