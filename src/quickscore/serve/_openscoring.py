"""Openscoring-compatible REST endpoints (a drop-in for Openscoring clients).

Openscoring README, "REST API": "GET /model: Gets the summaries of all models" (a
``BatchModelResponse``: ``{"responses": [ModelResponse, ...]}``); "GET /model/${id}: Gets the
summary of a model"; "POST /model/${id}: Evaluates data in 'single prediction' mode" (``{"id",
"arguments"}`` -> ``{"id", "results"}``); "POST /model/${id}/batch [...] is performed at 'record'
isolation level"; "POST /model/${id}/csv [...] detects the CSV dialect by probing ``,``, ``;`` and
``\\t`` as CSV delimiter characters", and the first column "will be copied over from the request
data table to the response data table if its name equals to 'Id' (the comparison is case
insensitive)"; the CSV mode is "all-records-or-nothing". Errors are a ``SimpleResponse``:
``{"message": ...}``. Every route is also served under the ``/openscoring`` context path that
Openscoring's own server uses.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from itertools import chain
from operator import itemgetter
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

import quickscore
from quickscore.serve._app import App, HTTPError, Request, Response, TEXT, json_response, parse_json
from quickscore.serve._registry import MODEL_ID, Entry

MISSING_STRINGS = frozenset(("", "NA", "N/A", "NaN", "null"))
"""CSV cells read as a missing value (as ``quickscore score`` reads CSV)."""
CSV_DELIMITERS = (",", ";", "\t")
_EVALUATION_KEYS = frozenset({"id", "arguments"})
_BATCH_KEYS = frozenset({"id", "requests"})
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})  # what JSON scalars parse to


# --------------------------------------------------------------------------- model descriptions


def _field(f: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.name, "dataType": f.data_type, "opType": f.op_type}
    values = [_interval(i) for i in f.intervals] or [_value(v, f.data_type) for v in f.values]
    if values:
        out["values"] = values
    return out


def _value(v: Any, data_type: str) -> Any:
    if data_type == "integer" and isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _interval(interval: Any) -> str:
    """A PMML Interval as Openscoring writes it: closedClosed 4.3..7.9 is "[4.3, 7.9]"."""
    closure = interval.closure
    left = "-Infinity" if interval.left is None else repr(float(interval.left))
    right = "Infinity" if interval.right is None else repr(float(interval.right))
    return f"{'(' if closure.startswith('open') else '['}{left}, {right}{')' if closure.endswith('Open') else ']'}"


def model_response(entry: Entry) -> dict[str, Any]:
    model = entry.model
    schema = model.schema
    declared = {f.name for f in [*schema.targets, *schema.outputs]}
    # Probability columns a model without an Output element reports by default.
    extra = [{"id": name, "dataType": "double", "opType": "continuous"} for name in model.output_names if name not in declared]
    info = model.info
    return {
        "id": entry.name,
        "miningFunction": info.get("function_name"),
        "summary": " ".join(x for x in (info.get("model_type"), info.get("model_name")) if x),
        "properties": {
            "created.timestamp": datetime.fromtimestamp(entry.loaded_at, timezone.utc).isoformat(timespec="milliseconds"),
            "file.size": entry.size,
            "file.checksum": entry.checksum,
            "file.name": entry.path.name,
            "engine": getattr(model, "engine", None),
        },
        "schema": {
            "inputFields": [_field(f) for f in schema.inputs],
            "targetFields": [_field(f) for f in schema.targets],
            "outputFields": [_field(f) for f in schema.outputs] + extra,
        },
    }


async def os_list(app: App, request: Request, entry: None) -> Response:
    models = app.registry.models
    return json_response({"responses": [model_response(models[name]) for name in sorted(models)]})


async def os_model(app: App, request: Request, entry: Entry) -> Response:
    return json_response(model_response(entry))


# --------------------------------------------------------------------------- management


async def os_deploy(app: App, request: Request, entry: Entry | None) -> Response:
    app.require_admin(request)
    name = request.params["model"]
    if not MODEL_ID.fullmatch(name):
        raise HTTPError(400, f"model id {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
                             "(starting with a letter or digit, at most 200 characters)")
    body = _decoded(request, app.config.max_body_bytes)
    if not body.strip():
        raise HTTPError(400, "the request body is empty: send a PMML document")
    try:
        new, replaced = await app.registry.deploy(name, body)
    except quickscore.ModelError as exc:
        raise HTTPError(400, f"the PMML document did not load: {exc}") from None
    except OSError as exc:
        raise HTTPError(500, f"cannot write the model file: {exc}") from None
    return json_response(model_response(new), 200 if replaced else 201)


async def os_undeploy(app: App, request: Request, entry: Entry) -> Response:
    app.require_admin(request)
    try:
        removed = await app.registry.undeploy(entry.name)
    except OSError as exc:
        raise HTTPError(500, f"cannot remove the model file: {exc}") from None
    if not removed:
        raise HTTPError(404, f"model '{entry.name}' not found")
    return json_response({})


async def os_download(app: App, request: Request, entry: Entry) -> Response:
    app.require_admin(request)
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise HTTPError(404, f"the file of model '{entry.name}' is gone: {exc}") from None
    kind = b"application/xml" if entry.path.suffix.lower() in (".pmml", ".xml") else b"application/octet-stream"
    return Response(200, data, kind)


def _decoded(request: Request, limit: int) -> bytes:
    """The body, gunzipped when sent with Content-Encoding: gzip (still within the size limit)."""
    encoding = request.headers.get(b"content-encoding", b"identity").lower()
    if encoding in (b"identity", b""):
        return request.body
    if encoding != b"gzip":
        raise HTTPError(415, f"Content-Encoding {encoding.decode('latin-1')!r} is not supported (use gzip or none)")
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(request.body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise HTTPError(400, f"the gzip body cannot be decompressed: {exc}") from None
    if len(data) > limit:
        raise HTTPError(413, f"the decompressed body exceeds the limit of {limit} bytes")
    return data


# --------------------------------------------------------------------------- evaluation


def _arguments(item: Any, where: str, keys: frozenset = _EVALUATION_KEYS) -> dict[str, Any]:
    if type(item) is not dict:
        raise HTTPError(400, f"{where} must be a JSON object")
    if not item.keys() <= keys:
        unknown = item.keys() - keys
        raise HTTPError(400, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(keys))})")
    arguments = item.get("arguments")
    if arguments is None:
        return {}
    if type(arguments) is not dict:
        raise HTTPError(400, f"{where}.arguments must be a JSON object")
    if not set(map(type, arguments.values())) <= _SCALAR_TYPES:  # checked in C; the loop only finds the culprit
        for key, value in arguments.items():
            if type(value) not in _SCALAR_TYPES:
                raise HTTPError(400, f"{where}.arguments.{key}: a value must be a string, number, boolean or null, "
                                     f"not a {'list' if isinstance(value, list) else 'object'}")
    return arguments


async def os_evaluate(app: App, request: Request, entry: Entry) -> Response:
    body = parse_json(request.body)
    arguments = _arguments(body, "the request")
    try:
        results = entry.model.predict(arguments)
    except quickscore.EvaluationError as exc:
        raise HTTPError(400, str(exc)) from None
    response = {"id": body["id"], "results": results} if "id" in body else {"results": results}
    return json_response(response)


async def os_batch(app: App, request: Request, entry: Entry) -> Response:
    body = parse_json(request.body)
    if not isinstance(body, dict):
        raise HTTPError(400, "the batch request must be a JSON object")
    unknown = body.keys() - _BATCH_KEYS
    if unknown:
        raise HTTPError(400, f"unknown key(s) in the batch request: {', '.join(sorted(unknown))} (allowed: id, requests)")
    items = body.get("requests")
    if not isinstance(items, list):
        raise HTTPError(400, "'requests' must be a list of evaluation requests")
    app.check_rows(len(items))
    responses = await app.in_thread(request, _score_batch, entry.model, items)
    out = {"id": body["id"], "responses": responses} if "id" in body else {"responses": responses}
    return json_response(out)


def _score_batch(model, items: list) -> list[dict[str, Any]]:
    """Each record isolated: a bad record gets its own message, the others their results."""
    responses: list[dict[str, Any]] = [{} for _ in items]
    records, positions = [], []
    for i, item in enumerate(items):
        if isinstance(item, dict) and "id" in item:
            responses[i]["id"] = item["id"]
        try:
            records.append(_arguments(item, f"requests[{i}]"))
            positions.append(i)
        except HTTPError as exc:
            responses[i]["message"] = exc.message
    if records:
        frame = model.predict(_columns(model, records))
        errors = frame.pop("_error").tolist()
        names = list(frame.columns)
        rows = zip(*(_plain_column(frame[name].to_numpy()) for name in names))
        for i, error, row in zip(positions, errors, rows):
            if isinstance(error, str):
                responses[i]["message"] = error
            else:
                responses[i]["results"] = dict(zip(names, row))
    return responses


_NUMBERS = frozenset({int, float, type(None)})
_NUMERIC_FIELDS = frozenset({"double", "float"})


def _columns(model, records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Records as columns. A double/float field whose values are all numbers or null becomes one
    float64 array (null -> NaN, a missing value), which the model reads without converting each
    value; any other column stays as given, so the model judges (and reports) each value itself."""
    numeric = {f.name for f in model.schema.inputs if f.data_type in _NUMERIC_FIELDS}
    first = records[0]
    names = list(dict.fromkeys(chain.from_iterable(records)))  # every key, in first-seen order
    if len(names) == len(first) and all(len(r) == len(names) for r in records):
        # Every record has the same keys (the usual case): transpose in C.
        values = zip(*map(itemgetter(*names), records)) if len(names) > 1 else ([r[names[0]] for r in records],)
    else:
        values = ([r.get(name) for r in records] for name in names)
    columns = {}
    for name, column in zip(names, values):
        if name in numeric and set(map(type, column)) <= _NUMBERS:
            columns[name] = np.array(column, dtype=np.float64)
        else:
            columns[name] = np.array(column, dtype=object)
    return columns


def _plain_column(values: np.ndarray) -> list:
    """A column as Python values, NaN (a missing output) as None."""
    out = values.tolist()
    if values.dtype.kind == "f" and np.isnan(values).any() or values.dtype.kind == "O":
        out = [None if v != v else v for v in out]  # NaN is the one value not equal to itself
    return out


async def os_csv(app: App, request: Request, entry: Entry) -> Response:
    text = _text(_decoded(request, app.config.max_body_bytes))
    delimiter = _delimiter(request, text)
    quote = _single(request, "quoteChar", '"')
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote) if row]
    except csv.Error as exc:
        raise HTTPError(400, f"the CSV document cannot be read: {exc}") from None
    if not rows:
        raise HTTPError(400, "the CSV document is empty: it needs a header row")
    header, records = rows[0], rows[1:]
    app.check_rows(len(records))
    for k, row in enumerate(records):
        if len(row) != len(header):
            raise HTTPError(400, f"CSV record {k + 1}: {len(row)} cells, but the header has {len(header)}")
    has_id = header[0].strip().lower() == "id"
    csv_out = await app.in_thread(request, _score_csv, entry.model, header, records, has_id, delimiter)
    return Response(200, csv_out.encode("utf-8"), TEXT)


def _score_csv(model, header: list[str], records: list[list[str]], has_id: bool, delimiter: str) -> str:
    start = 1 if has_id else 0
    columns = {
        name: np.array([None if row[j] in MISSING_STRINGS else row[j] for row in records], dtype=object)
        for j, name in enumerate(header) if j >= start
    }
    frame = model.predict(columns) if records else pd.DataFrame({name: [] for name in [*model.output_names, "_error"]})
    errors = frame.pop("_error")
    failed = errors.notna().to_numpy()
    if failed.any():  # all-records-or-nothing
        k = int(np.flatnonzero(failed)[0])
        label = f" (Id {records[k][0]})" if has_id else ""
        raise HTTPError(400, f"CSV record {k + 1}{label}: {errors.iloc[k]}")
    if has_id:
        frame.insert(0, header[0], [row[0] for row in records])
    return frame.to_csv(sep=delimiter, index=False, lineterminator="\n", na_rep="")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPError(400, f"the CSV document is not UTF-8: {exc}") from None


def _single(request: Request, key: str, default: str) -> str:
    given = request.query.get(key)
    if not given:
        return default
    value = {"\\t": "\t", "tab": "\t"}.get(given[0], given[0])
    if len(value) != 1:
        raise HTTPError(400, f"query parameter {key} must be one character, not {given[0]!r}")
    return value


def _delimiter(request: Request, text: str) -> str:
    """The delimiterChar query parameter, else the candidate that splits the header line most."""
    if request.query.get("delimiterChar"):
        return _single(request, "delimiterChar", ",")
    first = text.split("\n", 1)[0]
    counts = [(first.count(d), -k, d) for k, d in enumerate(CSV_DELIMITERS)]
    return max(counts)[2] if max(counts)[0] > 0 else ","
