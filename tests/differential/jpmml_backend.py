"""JPMML-Evaluator (the reference implementation) behind the ``jpmml_evaluator`` Python package.

One JVM per process, started through JPype (the in-process backend: no sockets, no per-call
process hop; pyjnius also works, py4j needs a separate gateway process) with a capped heap:
the JVM otherwise grows to its default heap (~6 GB RSS) during big batches (shared/PITFALLS.md).

``JPMML_XMX`` overrides the heap cap (default ``1g``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_BACKEND = None
_UNAVAILABLE: str | None = None


class JpmmlUnavailable(Exception):
    pass


class JpmmlRejected(Exception):
    """JPMML-Evaluator refuses the document (load/build/verify)."""

    def __init__(self, message: str, unsupported: bool):
        super().__init__(message)
        self.unsupported = unsupported


def backend():
    """The JPype backend, starting the JVM on first use. Raises JpmmlUnavailable with the reason."""
    global _BACKEND, _UNAVAILABLE
    if _BACKEND is not None:
        return _BACKEND
    if _UNAVAILABLE is not None:
        raise JpmmlUnavailable(_UNAVAILABLE)
    try:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise JpmmlUnavailable("java not found on PATH (JPMML-Evaluator needs Java 17)")
        try:
            import jpmml_evaluator
            import jpype
        except ImportError as exc:
            raise JpmmlUnavailable(f"jpmml_evaluator / jpype not installed ({exc}); pip install jpmml_evaluator") from exc
        try:
            if not jpype.isJVMStarted():
                jpype.startJVM(f"-Xmx{os.environ.get('JPMML_XMX', '1g')}", classpath=jpmml_evaluator._classpath([]))
            _BACKEND = jpmml_evaluator.make_backend("jpype")
        except Exception as exc:  # noqa: BLE001
            raise JpmmlUnavailable(f"cannot start the JVM for JPMML-Evaluator: {type(exc).__name__}: {exc}") from exc
        return _BACKEND
    except JpmmlUnavailable as exc:
        _UNAVAILABLE = str(exc)
        raise


def load(path: Path | str):
    """A JPMML Evaluator for the file; JpmmlRejected if JPMML refuses it.

    ``verify()`` (ModelVerification) is deliberately not called: some files carry verification
    records that JPMML itself does not reproduce (e.g. float32 XGBoost exports written with 8 digits),
    which says nothing about the model.
    """
    import jpmml_evaluator

    b = backend()
    try:
        return jpmml_evaluator.make_evaluator(str(path), backend=b)
    except Exception as exc:  # noqa: BLE001 - JavaError or a JPype exception
        err = exc
        if not isinstance(exc, jpmml_evaluator.JavaError):
            try:
                err = b.toJavaError(exc)
            except Exception:  # noqa: BLE001
                err = exc
        name = getattr(err, "className", type(err).__name__)
        msg = getattr(err, "message", None) or str(err)
        unsupported = "Unsupported" in str(name)
        raise JpmmlRejected(f"{name}: {msg}", unsupported) from exc


def evaluate(ev, frame):
    """Score a DataFrame; returns a DataFrame with the result columns and ``_error``."""
    out = ev.evaluateAll(frame, error_col="_error")
    # Models without a named target report it as a NaN-named column: call it "_target", the name the
    # JPMML converters use for an unnamed target in their CSVs.
    out.columns = [c if isinstance(c, str) else "_target" for c in out.columns]
    if "_error" not in out.columns:
        out["_error"] = None
    return out


def jpmml_scorer(path, frame):
    """A conformance_lib scorer backed by JPMML-Evaluator (to check the harness itself)."""
    import conformance_lib as cl

    try:
        ev = load(path)
    except JpmmlRejected as exc:
        raise (cl.Unsupported if exc.unsupported else cl.LoadError)(str(exc)) from exc
    return evaluate(ev, frame)
