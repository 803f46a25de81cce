"""The served models: a directory of model files, watched and hot-reloaded.

Every regular, non-hidden file of the directory whose load succeeds is served under its file
stem. A changed or new file is loaded and compiled in a background thread first; only a model
that loaded replaces the one being served, by swapping one dict reference, so a request holds
either the old or the new model, never a broken one. A file that fails to load is logged and
counted (``quickscore_model_loads_total{result="error"}``) and the previous version stays.

A big PMML file (COMPILE_IN_CHILD_BYTES and more) is not parsed in the worker: a child process
(``_compile_child``) compiles it to a ``.qsm`` file, which the loader
thread then loads (a fraction of a second) and warms up. Parsing a 90 MB forest in the worker
held the GIL for seconds per reload (for 8-17 s on a busy 2-core machine), and the worker's event
loop, starved of it, answered requests 25-100 ms late throughout. The workers share the compiled
files (one directory, a lock per file version): one child per changed file, not one per worker.
A child that fails, crashes, times out or writes a broken file is a failed load like any other.

Workers are separate processes with their own copies of the models. A deploy or undeploy
through the API bumps a generation counter in memory shared by the workers; a worker that sees
a newer generation rescans the directory before it answers, so a model deployed through one
worker is served by all of them when the PUT returns.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import quickscore
from quickscore.serve import _metrics
from quickscore.serve._shared import SharedGeneration

log = logging.getLogger("quickscore.serve")

COMPILE_IN_CHILD_BYTES = 4 << 20
"""PMML files at least this big are compiled to .qsm by a child process (see the module docstring);
smaller ones (and other formats) load in the loader thread, where they take milliseconds."""
COMPILE_TIMEOUT = 600.0
"""Seconds a compiling child may take (the 90 MB forest: ~5-10 s); past it, it is killed and
the load has failed."""
COMPILE_DIR_ENV = "QUICKSCORE_COMPILE_DIR"
"""The directory of compiled files shared by the workers (set by the supervisor); without it a
registry uses a temporary directory of its own."""
_CHILD_SUFFIXES = (".pmml", ".xml")

# Files a writer is still producing, editors' backups and hidden files are not models.
_IGNORED_SUFFIXES = (".part", ".tmp", ".swp", "~", ".crdownload")
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
"""Model names accepted by PUT: they become file names, so no path separators or dot-files."""


@dataclass(frozen=True)
class Entry:
    """One served model and the file it came from."""

    name: str
    model: Any
    path: Path
    signature: tuple
    size: int
    checksum: str
    loaded_at: float
    load_seconds: float
    input_names: frozenset = field(default_factory=frozenset)
    record_seconds: float = 0.0
    """One record's scoring time, measured at warm-up: the app scores a cheap model's single
    records on the event loop, an expensive one's on the scoring thread under the request timeout."""


def _signature(st: os.stat_result) -> tuple:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _is_candidate(entry: os.DirEntry) -> bool:
    name = entry.name
    return not name.startswith(".") and not name.endswith(_IGNORED_SUFFIXES) and entry.is_file()


class Registry:
    """The models of one worker process, kept in step with the model directory."""

    def __init__(self, directory: Path, *, generation: SharedGeneration, reload_interval: float, n_threads: int,
                 alias: str | None = None):
        self.directory = Path(directory)
        self.alias = alias
        """Also serve the directory's model under this name when it holds exactly one (KServe's model name)."""
        self._files: dict[str, Entry] = {}  # file stem -> Entry
        self.generation = generation
        self.reload_interval = reload_interval
        self.n_threads = n_threads
        self.models: dict[str, Entry] = {}
        """Name -> Entry. Replaced as a whole on every change (readers need no lock)."""
        self.failures: dict[str, str] = {}
        """Name -> why its file is not served (load error, or two files with one stem)."""
        self._failed: dict[Path, tuple] = {}  # path -> signature that failed (not retried unchanged)
        self.ready = False
        self.synced_generation = -1
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quickscore-load")
        self.compile_in_child_bytes = COMPILE_IN_CHILD_BYTES
        self.compile_timeout = COMPILE_TIMEOUT
        self.compile_command = [sys.executable, "-m", "quickscore.serve._compile_child"]
        """The child's command; its arguments are appended (MODEL QSM META INO SIZE MTIME_NS)."""
        self._compile_dir: Path | None = None
        self._own_compile_dir: tempfile.TemporaryDirectory | None = None
        self._frozen = False
        self._wake: asyncio.Event | None = None
        self._synced: asyncio.Condition | None = None
        self._task: asyncio.Task | None = None

    # --- the watch loop (one asyncio task per worker) ------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._synced = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="quickscore-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._loader.shutdown(wait=False, cancel_futures=True)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._loader, self.sync)
            except Exception:  # never let the watcher die: log, and try again next round
                log.exception("model directory scan failed", extra={"directory": str(self.directory)})
            if not self.ready:
                self.ready = True
                log.info("models loaded", extra={"models": sorted(self.models), "failed": sorted(self.failures)})
            async with self._synced:
                self._synced.notify_all()
            self._wake.clear()
            deadline = loop.time() + self.reload_interval
            # Poll the shared generation often (cheap), the directory every reload_interval.
            while loop.time() < deadline and self.generation.value == self.synced_generation and not self._wake.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=min(0.05, self.reload_interval))
                except asyncio.TimeoutError:
                    pass

    def stale(self) -> bool:
        """Has another worker deployed or undeployed a model since this one last scanned?"""
        return self.generation.value != self.synced_generation

    async def catch_up(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until this worker has scanned after the latest deploy."""
        if self._wake is None:  # not started
            return
        target = self.generation.value
        self._wake.set()
        try:
            async with self._synced:
                await asyncio.wait_for(self._synced.wait_for(lambda: self.synced_generation >= target), timeout)
        except asyncio.TimeoutError:
            log.warning("still reloading models after a deploy: answering with the models loaded so far")

    # --- scanning (in the loader thread) --------------------------------------------------------

    def sync(self) -> None:
        """Bring the models in line with the directory: load new and changed files, drop removed ones."""
        generation = self.generation.value
        try:
            self._sync()
        finally:  # even after a failure: requests must not wait for a scan that will not come
            self.synced_generation = generation

    def _sync(self) -> None:
        if not self._frozen:
            self._frozen = True
            self._freeze_process()
        files = self._scan()
        for name, paths in sorted(files.items()):
            if len(paths) > 1:
                message = "several files have this stem: " + ", ".join(sorted(p.name for p in paths))
                if self.failures.get(name) != message:
                    log.error("model not loaded", extra={"model": name, "error": message})
                self.failures[name] = message
                continue
            path, st = paths.popitem()
            current = self._files.get(name)
            if current is not None and current.path == path and current.signature == _signature(st):
                continue
            if self._failed.get(path) == _signature(st):
                continue  # known broken, unchanged
            self._load_file(name, path, st)
        for name in set(self._files) - set(files):
            log.info("model removed", extra={"model": name})
            self._set(name, None)
        for name in set(self.failures) - set(files):
            del self.failures[name]
        self._failed = {p: s for p, s in self._failed.items() if p.exists()}

    def _scan(self) -> dict[str, dict[Path, os.stat_result]]:
        files: dict[str, dict[Path, os.stat_result]] = {}
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if _is_candidate(entry):
                        path = Path(entry.path)
                        files.setdefault(path.stem, {})[path] = entry.stat()
        except FileNotFoundError:
            log.error("model directory not found", extra={"directory": str(self.directory)})
        return files

    def _load_file(self, name: str, path: Path, st: os.stat_result) -> None:
        with _loading():
            self._load_file_now(name, path, st)

    def _load_file_now(self, name: str, path: Path, st: os.stat_result) -> None:
        start = time.perf_counter()
        try:
            model, size, checksum = self._load_model(path, st)
        except _Changed:  # the next scan sees the new file
            return
        except Exception as exc:  # a broken file never replaces a working model
            self._failed[path] = _signature(st)
            self.failures[name] = f"{path.name}: {exc}"
            _metrics.observe_load(name, None, ok=False)
            log.error("model not loaded", extra={"model": name, "file": str(path), "error": str(exc),
                                                 "kept_previous": name in self._files})
            return
        record_seconds = _warm_up(model)
        seconds = time.perf_counter() - start
        self._failed.pop(path, None)
        self.failures.pop(name, None)
        entry = _entry(name, model, path, st, size, checksum, seconds, record_seconds)
        replaced = name in self._files
        self._set(name, entry)
        _metrics.observe_load(name, seconds, ok=True)
        log.info("model reloaded" if replaced else "model loaded",
                 extra={"model": name, "file": str(path), "seconds": round(seconds, 3), "engine": getattr(model, "engine", None),
                        "record_us": round(record_seconds * 1e6, 1)})

    def _load_model(self, path: Path, st: os.stat_result) -> tuple[Any, int, str]:
        """(model, file size, sha256 of the file)."""
        if st.st_size >= self.compile_in_child_bytes and path.suffix.lower() in _CHILD_SUFFIXES:
            return self._load_compiled(path, st)
        model = quickscore.load(path, n_threads=self.n_threads)  # the path: its suffix can name the format
        data = path.read_bytes()
        return model, len(data), hashlib.sha256(data).hexdigest()

    def _freeze_process(self) -> None:
        """Before the first scan: every model file loaded, warmed up and dropped, then everything
        the process holds frozen (see _freeze_process below), so that the libraries and what
        loading and warming up a model builds once (numba's compiled kernels: ~100k objects) stay
        out of the collector's full collections, and the models themselves do not."""
        for paths in self._scan().values():
            if len(paths) == 1:
                ((path, st),) = paths.items()
                try:
                    with _loading():
                        _warm_up(self._load_model(path, st)[0])
                except Exception:  # noqa: BLE001 - the scan that follows loads it again and reports it
                    pass
        _freeze_process()

    # --- big files: compiled by a child process ------------------------------------------------

    def compile_dir(self) -> Path:
        if self._compile_dir is None:
            shared = os.environ.get(COMPILE_DIR_ENV)
            if shared:
                self._compile_dir = Path(shared)
            else:
                self._own_compile_dir = tempfile.TemporaryDirectory(prefix="quickscore-compiled-")
                self._compile_dir = Path(self._own_compile_dir.name)
        return self._compile_dir

    def _load_compiled(self, path: Path, st: os.stat_result) -> tuple[Any, int, str]:
        """The model of ``path`` (this very version: ``st``) compiled by a child process, loaded
        from the .qsm file. Under the version's lock: the worker that takes it first runs the
        child, the others wait and load what it wrote (or fail with the error it recorded)."""
        directory = self.compile_dir()
        key = f"{path.stem}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"
        qsm, meta = directory / f"{key}.qsm", directory / f"{key}.json"
        with open(directory / f"{key}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # blocks without the GIL
            try:
                if not meta.exists():
                    self._compile(path, st, qsm, meta)
                info = json.loads(meta.read_text())
                if "error" in info:
                    if info["error"].startswith("the file changed"):
                        raise _Changed()
                    raise _CompileError(info["error"])
                model = quickscore.load(qsm, n_threads=self.n_threads)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._prune(path.stem, key)
        return model, info["size"], info["sha256"]

    def _compile(self, path: Path, st: os.stat_result, qsm: Path, meta: Path) -> None:
        command = [*self.compile_command, str(path), str(qsm), str(meta), str(st.st_ino), str(st.st_size),
                   str(st.st_mtime_ns)]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=self.compile_timeout)
        except subprocess.TimeoutExpired:  # run() has killed the child
            why = f"compiling in a child process took longer than {self.compile_timeout:g} s: stopped"
        else:
            if done.returncode == 0 and meta.exists():
                log.info("model compiled", extra={"file": str(path), "seconds": round(time.perf_counter() - started, 3)})
                return
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            why = (f"compiling in a child process failed (exit status {done.returncode})"
                   + (f": {lines[-1][-500:]}" if lines else ""))
        partial = meta.with_name(meta.name + ".part")
        partial.write_text(json.dumps({"error": why}))
        os.replace(partial, meta)  # the other workers report the same failure without a child of their own

    def _prune(self, stem: str, keep: str) -> None:
        """Remove the compiled files of other versions of ``stem`` that no worker is using (their
        lock is free). A worker that comes late to such a version compiles it again."""
        directory = self.compile_dir()
        for lock_path in directory.glob(f"{glob_escape(stem)}-*.lock"):
            key = lock_path.name[:-len(".lock")]
            if key == keep or key.rsplit("-", 3)[0] != stem:
                continue
            try:
                with open(lock_path, "a") as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    for suffix in (".qsm", ".json"):
                        (directory / f"{key}{suffix}").unlink(missing_ok=True)
                    lock_path.unlink(missing_ok=True)
            except OSError:  # another worker pruned it first
                continue

    def _set(self, name: str, entry: Entry | None) -> None:
        files = dict(self._files)
        if entry is None:
            files.pop(name, None)
        else:
            files[name] = entry
        models = dict(files)
        if self.alias and len(files) == 1 and self.alias not in files:
            (only,) = files.values()
            models[self.alias] = replace(only, name=self.alias)
        replaced = self._files.get(name)
        self._files = files
        self.models = models  # one reference swap: requests see the old dict or the new one
        _metrics.MODELS_LOADED.set(len(files))
        if replaced is not None:
            del replaced, files, models
            _release_memory()

    # --- deploy / undeploy (from a request, in the loader thread) -------------------------------

    async def deploy(self, name: str, data: bytes) -> tuple[Entry, bool]:
        """Load ``data`` as a PMML document and, only if it loads, write it as ``<name>.pmml``."""
        return await asyncio.get_running_loop().run_in_executor(self._loader, self._deploy, name, data)

    def _deploy(self, name: str, data: bytes) -> tuple[Entry, bool]:
        with _loading():
            return self._deploy_now(name, data)

    def _deploy_now(self, name: str, data: bytes) -> tuple[Entry, bool]:
        start = time.perf_counter()
        try:
            model = quickscore.load(data, format="pmml", n_threads=self.n_threads)
        except Exception:
            _metrics.observe_load(name, None, ok=False)
            raise
        record_seconds = _warm_up(model)
        seconds = time.perf_counter() - start
        path = self.directory / f"{name}.pmml"
        partial = self.directory / f".{name}.pmml.part"
        partial.write_bytes(data)
        os.replace(partial, path)  # atomic: a scanning worker sees the old file or the new one
        for other in self.directory.glob(f"{glob_escape(name)}.*"):
            if other != path and other.stem == name and other.is_file():
                other.unlink()  # the new file is the one model with this stem
        replaced = name in self._files
        entry = _entry(name, model, path, path.stat(), len(data), hashlib.sha256(data).hexdigest(), seconds,
                       record_seconds)
        self.failures.pop(name, None)
        self._set(name, entry)
        _metrics.observe_load(name, seconds, ok=True)
        self.generation.bump()
        log.info("model deployed", extra={"model": name, "file": str(path), "replaced": replaced})
        return entry, replaced

    async def undeploy(self, name: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._loader, self._undeploy, name)

    def _undeploy(self, name: str) -> bool:
        entry = self.models.get(name)
        if entry is None:
            return False
        name = entry.path.stem  # an alias undeploys its file
        for other in self.directory.glob(f"{glob_escape(name)}.*"):
            if other.stem == name and other.is_file():
                other.unlink()
        self._set(name, None)
        self.generation.bump()
        log.info("model undeployed", extra={"model": name})
        return True


LOADING_SWITCH_INTERVAL = 0.0005
"""sys.setswitchinterval while a model loads in the background thread. Loading is Python code
that holds the GIL; at the default 5 ms the event loop waits up to 5 ms for the GIL after every
I/O call it makes, which multiplies into tens of milliseconds per request during a reload."""


@contextmanager
def _loading():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, LOADING_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class _Changed(Exception):
    """The file changed while a child compiled it: not a failure, the next scan loads the new one."""


class _CompileError(Exception):
    """The child's report that the file did not load (its message is the load's error)."""


def _release_memory() -> None:
    """Give a replaced model's memory back: a compiled model holds reference cycles, which only a
    full collection frees (left to the collector's own schedule, a worker reloading a 90 MB forest
    every 20 s grew by ~40 MB per reload), and glibc keeps freed pages unless asked to return them.
    The collection walks what is not frozen (see _freeze_process): the models and what the worker
    made since it started, ~2-3 ms (it was 100-250 ms, holding the GIL, over everything)."""
    from quickscore._memory import release_memory

    gc.collect()
    release_memory()  # glibc's malloc_trim, where there is one


def _freeze_process() -> None:
    """Keep what the worker imported out of the collector's full collections, before any model is
    loaded. Python's gc.freeze: "Freeze all the objects tracked by the garbage collector; move them
    to a permanent generation and ignore them in all the future collections." The libraries a
    worker imports (numba, pandas, ...) are ~95k tracked objects: a full collection walking them
    took 50-160 ms (after a /batch request's thousands of dicts, or after a reload), one over the
    served models alone (the forest and the logistic regression: ~10-15k objects) 1.5-3 ms. The
    models stay unfrozen, so that a replaced one is collected without unfreezing anything."""
    gc.collect()
    gc.freeze()


WARM_UP_TIMINGS = 5


def _warm_up(model: Any) -> float:
    """Score a made-up record, alone and as a batch, before the model is served: compiled kernels
    are built (or loaded from numba's cache) now, not on the first requests after a (re)load.
    Returns the record's scoring time (the fastest of a few, once compiled)."""
    record: dict[str, Any] = {}
    for f in model.schema.inputs:
        if f.values:
            record[f.name] = f.values[0]
        elif f.data_type in ("double", "float", "integer"):
            interval = f.intervals[0] if f.intervals else None
            bounds = [b for b in (getattr(interval, "left", None), getattr(interval, "right", None)) if b is not None]
            record[f.name] = sum(bounds) / len(bounds) if bounds else 0.0
        else:
            record[f.name] = None
    for data in (record, [record, {}]):
        try:
            model.predict(data)
        except Exception:  # noqa: BLE001 - a warm-up only: a record the model refuses still compiled what it reached
            pass
    best = float("inf")
    for _ in range(WARM_UP_TIMINGS):
        start = time.perf_counter()
        try:
            model.predict(record)
        except Exception:  # noqa: BLE001 - timed all the same: a refused record costs what it costs
            pass
        best = min(best, time.perf_counter() - start)
    return best


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _entry(name: str, model: Any, path: Path, st: os.stat_result, size: int, checksum: str, seconds: float,
           record_seconds: float = 0.0) -> Entry:
    return Entry(
        name=name, model=model, path=path, signature=_signature(st), size=size,
        checksum=checksum, loaded_at=time.time(), load_seconds=seconds,
        input_names=frozenset(f.name for f in model.schema.inputs), record_seconds=record_seconds,
    )
