"""A comparison server: KServe's own PMML server design, on KServe's own model server, as shipped.

Runs in bench/.cache/venv-kserve (created by bench/serve_load.py's ``prepare_kserve``: the
``kserve`` package and ``jpmml_evaluator``, never in the main environment). It serves every
``*.pmml`` of MODEL_DIR under its file stem with ``kserve.ModelServer`` (FastAPI on uvicorn, V1
and V2 REST, KServe's default settings: latency log line per request, uvicorn access log) and a
model class equivalent to KServe's pmmlserver
(kserve/kserve ``python/pmmlserver/pmmlserver/model.py``, the version stored at commit
0217bdabaaa250485b336805da1aed04960dc758, which imports kserve 0.21's ``get_predict_input`` /
``get_predict_response``), written for this benchmark with the same calls and structure:

* ``load``: ``make_evaluator(path, Py4JBackend()).verify()`` and the names of
  ``evaluator.getInputFields()``;
* ``predict``: ``get_predict_input(payload)``, then per instance
  ``evaluator.evaluate(dict(zip(input_fields, instance)))``, then
  ``get_predict_response(payload, pd.DataFrame(results), name)``; any failure as
  ``InferenceError``.

Differences from the shipped pmmlserver, all outside the scoring path: the model file comes from a
local directory (no ``kserve_storage`` download) and one server holds several models (the
pmmlserver holds one per process); the py4j gateway JVM gets the heap cap of bench/jpmml_server.py
(``-Xmx`` from ``JPMML_XMX``, default 2g) and dies with the server (the pmmlserver's
``Py4JBackend()`` launches it with the JVM's default heap); gRPC is off (``--enable_grpc false``
by default here) so that several servers can run on one machine.

Requests: ``get_predict_input`` of an ``InferRequest`` without ``content_type: pd`` takes only
the request's *first* input tensor (``payload.inputs[0].as_numpy()``), and its rows are the
instances; so a single record is one V2 tensor of shape [1, n_features] (input fields in the
PMML's order) at ``POST /v2/models/{name}/infer``, or the V1 body ``{"instances": [[...]]}`` at
``POST /v1/models/{name}:predict``. The per-column V2 body (one tensor per feature) that
quickscore serves fails there (HTTP 500, "'numpy.float64' object is not iterable": the instances
are the first column's values).

    bench/.cache/venv-kserve/bin/python bench/kserve_pmml_server.py MODEL_DIR --http_port 9000 [--workers N]

``--workers`` is KServe's own (``kserve.ModelServer``: more than one starts uvicorn workers as
spawned processes that receive the loaded models by pickling; see docs/serving.md for what that
does with a py4j gateway).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jpmml_evaluator
import kserve
import pandas as pd
from jpmml_evaluator import make_evaluator
from jpmml_evaluator.py4j import JavaGateway, Py4JBackend
from kserve.errors import InferenceError
from kserve.utils.utils import get_predict_input, get_predict_response

MODEL_EXTENSION = ".pmml"


def _cap_gateway_heap() -> None:
    """``Py4JBackend()`` with no gateway uses the class-wide one (``Py4JBackend.ensureGateway``),
    launched on first use with the JVM's default heap; launch it here with a capped heap instead."""
    if Py4JBackend.gateway is None:
        heap = f"-Xmx{os.environ.get('JPMML_XMX', '2g')}"
        Py4JBackend.gateway = JavaGateway.launch_gateway(classpath=os.pathsep.join(jpmml_evaluator._classpath([])),
                                                         javaopts=[heap], die_on_exit=True)


class PmmlModel(kserve.Model):
    """KServe's pmmlserver model class, for a local .pmml file."""

    def __init__(self, name: str, path: Path):
        super().__init__(name)
        self.path = path
        self.ready = False
        self.evaluator = None
        self.input_fields: list[str] = []
        self._backend = None

    def load(self) -> bool:
        _cap_gateway_heap()
        self._backend = Py4JBackend()
        self.evaluator = make_evaluator(str(self.path), self._backend).verify()
        self.input_fields = [field.getName() for field in self.evaluator.getInputFields()]
        self.ready = True
        if os.environ.get("KSERVE_PMML_LOADED_LOG"):  # for bench/serve_load.py: one line per model loaded, per process
            with open(os.environ["KSERVE_PMML_LOADED_LOG"], "a") as log:
                log.write(f"{os.getpid()} {self.name}\n")
        return self.ready

    # KServe's --workers > 1 (kserve.protocol.rest.multiprocess) starts its uvicorn workers with
    # multiprocessing's "spawn" and pickles the registered, loaded models into each: a py4j
    # evaluator (a gateway with sockets and locks) fails there with "TypeError: cannot pickle
    # '_thread.RLock' object", which is the shipped pmmlserver's behaviour with --workers 2.
    # The one addition to it: a model pickles as its name and file and loads again in the worker,
    # so each worker process gets its own gateway JVM. With one worker nothing is pickled.
    def __getstate__(self) -> dict:
        return {**self.__dict__, "evaluator": None, "_backend": None, "ready": False, "input_fields": []}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.load()

    def predict(self, payload, headers=None):
        try:
            instances = get_predict_input(payload)
            results = [self.evaluator.evaluate(dict(zip(self.input_fields, instance))) for instance in instances]
            return get_predict_response(payload, pd.DataFrame(results), self.name)
        except Exception as exc:  # as the pmmlserver: every failure is an InferenceError
            raise InferenceError(str(exc)) from exc


def main() -> None:
    # kserve.model_server parses sys.argv for its own options (--http_port, --workers, ...) on import,
    # as the pmmlserver's __main__ relies on; this parser only adds the model directory.
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser], description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    args, _ = parser.parse_known_args()
    models = []
    for path in sorted(args.model_dir.glob(f"*{MODEL_EXTENSION}")):
        model = PmmlModel(path.stem, path)
        model.load()
        models.append(model)
    if not models:
        raise SystemExit(f"kserve_pmml_server: no {MODEL_EXTENSION} file in {args.model_dir}")
    kserve.ModelServer(http_port=args.http_port, workers=args.workers,
                       enable_grpc=args.enable_grpc).start(models)


if __name__ == "__main__":
    import sys

    if not any(a.startswith("--enable_grpc") for a in sys.argv):
        sys.argv += ["--enable_grpc", "false"]  # one gRPC port (8081) per machine: off, unless asked for
    main()
