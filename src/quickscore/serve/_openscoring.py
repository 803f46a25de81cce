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
from datetime import datetime, timezone
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

import quickscore
from quickscore.serve._app import (
    TEXT,
    App,
    HTTPError,
    Request,
    Response,
    json_response,
    parse_json,
)
from quickscore.serve._batch import floats, predict_columns
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
        results = await app.score_one(request, entry, arguments)
    except quickscore.EvaluationError as exc:
        raise HTTPError(400, str(exc)) from None
    response = {"id": body["id"], "results": results} if "id" in body else {"results": results}
    return json_response(response)


async def os_batch(app: App, request: Request, entry: Entry) -> Response:
    return await app.in_thread(request, _batch, entry.model, request.body, app.check_rows)


def _batch(model, data: bytes, check_rows) -> Response:
    """The whole request on the scoring thread, parsing included: the ~2,000 objects of a
    1,000-record body are made, read and freed by one thread. Measured (one worker, the
    benchmark forest, server CPU a request, three servers side by side, requests in turn): 11.65
    ms before, 11.08 ms parsed on the event loop and answered as bytes, 10.68 ms all here."""
    body, items = _batch_request(data)
    check_rows(len(items))
    return _batch_response(body, _score_batch(model, items, True))


def _batch_request(data: bytes) -> tuple[dict[str, Any], list]:
    """The batch request and its list of evaluation requests (400 when malformed)."""
    body = parse_json(data)
    if not isinstance(body, dict):
        raise HTTPError(400, "the batch request must be a JSON object")
    unknown = body.keys() - _BATCH_KEYS
    if unknown:
        raise HTTPError(400, f"unknown key(s) in the batch request: {', '.join(sorted(unknown))} (allowed: id, requests)")
    items = body.get("requests")
    if not isinstance(items, list):
        raise HTTPError(400, "'requests' must be a list of evaluation requests")
    return body, items


def _batch_response(body: dict[str, Any], responses: bytes) -> Response:
    """The JSON of ``{"id": ..., "responses": [...]}`` around the responses' JSON (orjson writes a
    dict's keys in their order; no "id" when the request has none)."""
    head = b'{"id":' + orjson.dumps(body["id"], option=orjson.OPT_SERIALIZE_NUMPY) + b',"responses":' if "id" in body else b'{"responses":'
    return Response(200, b"".join((head, responses, b"}")))


# The batch path. Each item's response is what ``POST /model/{id}`` answers for that item alone
# (a validation message names ``requests[i]``), with the item's id echoed; the well-formed records
# are scored together, once. The usual batch (every item an object with only "id" and
# "arguments", the same argument names in the same order, numbers) is checked and transposed by
# a few passes in C over the whole batch; any other is checked item by item.


def _score_batch(model, items: list, as_json: bool = False) -> list[dict[str, Any]] | bytes:
    """Each record isolated: a bad record gets its own message, the others their results.
    ``as_json``: the JSON of that list (``orjson.dumps(responses, option=OPT_SERIALIZE_NUMPY)``,
    byte for byte), written without the response objects when every record scored.

    A float output stays NaN where it is missing: orjson's README, "float": "``orjson.dumps()``
    serializes Nan, Infinity, and -Infinity, which are not compliant JSON, as ``null``", which is
    how a missing value is written (as ``POST /model/{id}`` writes the None it gets)."""
    responses = _responses_of(model, items, as_json)
    if as_json and type(responses) is not bytes:
        return orjson.dumps(responses, option=orjson.OPT_SERIALIZE_NUMPY)
    return responses


def _responses_of(model, items: list, as_json: bool) -> list[dict[str, Any]] | bytes:
    n = len(items)
    records = _plain_records(items)
    columns = _plain_columns(model, records) if records is not None else None
    if columns is not None:
        positions, messages = None, {}
    else:
        records, positions, messages = _checked_records(items)
        columns = (_plain_columns(model, records) or _columns(model, records)) if records else {}
    names, values, errors = _score(model, columns, len(records))
    if errors.count(None) != len(errors):
        _restate(model, records, errors)
    ids = _ids(items)
    if positions is None and errors.count(None) == n:  # every record scored (the usual answer)
        if as_json:
            text = _json_responses(names, values, ids)
            if text is not None:
                return text
        rows = zip(*values) if values else repeat((), n)
        return _responses(names)(repeat(_MISSING, n) if ids is None else ids, rows)
    rows = zip(*values) if values else repeat((), len(records))
    results = map(dict, map(zip, repeat(names), rows))
    responses: list[dict[str, Any]] = [{} if i is _MISSING else {"id": i} for i in (repeat(_MISSING, n) if ids is None else ids)]
    for i, message in messages.items():
        responses[i]["message"] = message
    for i, error, result in zip(range(n) if positions is None else positions, errors, results):
        if error is None:
            responses[i]["results"] = result
        else:
            responses[i]["message"] = error
    return responses


_MISSING = object()
"""An item without an id."""
_ID = itemgetter("id")
_EMPTY: dict = {}


def _plain_records(items: list) -> list[dict[str, Any]] | None:
    """The arguments of every item when each item is an object with no key but "id" and
    "arguments" and its arguments an object (or absent), else None: _checked_records then judges
    each item. One pass in C over the batch per check."""
    if not items or set(map(type, items)) != {dict}:
        return None
    if not set(chain.from_iterable(items)) <= _EVALUATION_KEYS:  # the keys of every item
        return None
    records = list(map(dict.get, items, repeat("arguments"), repeat(_EMPTY)))
    if set(map(type, records)) != {dict}:  # "arguments": null is allowed: _arguments reads it as {}
        return None
    return records


def _plain_columns(model, records: list[dict[str, Any]]) -> dict[str, np.ndarray] | None:
    """The columns of well-formed records (as _columns makes them), or None when an argument is
    not a scalar (then _checked_records says which)."""
    n = len(records)
    names = list(records[0])
    k = len(names)
    if list(chain.from_iterable(records)) != names * n:  # not the same keys in the same order
        if not set(map(type, chain.from_iterable(map(dict.values, records)))) <= _SCALAR_TYPES:
            return None
        return _columns(model, records)
    # One flat list of the values, record after record: column j is every k-th value from j.
    values = list(chain.from_iterable(map(dict.values, records)))
    numeric = _numeric_fields(model)
    if k and numeric.issuperset(names):
        flat = floats(values)
        if flat is not None:  # every value a number: one float64 matrix, a row per field
            return dict(zip(names, flat.reshape(n, k).T.copy()))
    types = set(map(type, values))
    if not types <= _SCALAR_TYPES:
        return None
    if k and types <= _NUMBERS and numeric.issuperset(names):
        try:
            matrix = np.array(values, dtype=np.float64)  # numbers and null (NaN: missing), as _column reads them
        except OverflowError:  # an int beyond float64: column by column, the model judges it
            pass
        else:
            return dict(zip(names, matrix.reshape(n, k).T.copy()))
    return {name: _column(values[j::k], name in numeric) for j, name in enumerate(names)}


def _restate(model, records: list[dict[str, Any]], errors: list) -> None:
    """The message of each failed record as the one-record path words it: a number column read
    as float64 shows an int 1 as 1.0 ("Invalid value '1.0' for field ..."), so failed records
    holding an int are scored again, together, with their values as given (the model reads each)."""
    failed = [j for j, error in enumerate(errors) if error is not None]
    again = [records[j] for j in failed]
    if int not in set(map(type, chain.from_iterable(map(dict.values, again)))):
        return  # a float, a string, a boolean or null reads the same either way
    columns = {name: np.array([r.get(name) for r in again], dtype=object) for name in dict.fromkeys(chain.from_iterable(again))}
    _, messages = predict_columns(model, columns, len(failed))
    for j, message in zip(failed, messages):
        if message is not None:
            errors[j] = message


def _checked_records(items: list) -> tuple[list[dict[str, Any]], list[int], dict[int, str]]:
    """Item by item: the arguments of the well-formed ones, their positions, and the message
    of each malformed one (by position)."""
    records, positions, messages = [], [], {}
    for i, item in enumerate(items):
        try:
            records.append(_arguments(item, f"requests[{i}]"))
            positions.append(i)
        except HTTPError as exc:
            messages[i] = exc.message
    return records, positions, messages


def _ids(items: list) -> list | None:
    """The id of each item (_MISSING where it has none), or None when no item has one."""
    if set(map(type, items)) == {dict}:
        try:
            return list(map(_ID, items))  # every item has one (the usual batch)
        except KeyError:
            ids = list(map(dict.get, items, repeat("id"), repeat(_MISSING)))
    else:
        ids = [item.get("id", _MISSING) if type(item) is dict else _MISSING for item in items]
    return None if ids.count(_MISSING) == len(ids) else ids


def _score(model, columns: dict[str, np.ndarray], n: int) -> tuple[list[str], list[list], list]:
    """Score n records together: the output names, each output as a list (a float output: floats,
    NaN where missing; any other: its values, None where missing) and each record's error (None
    if scored)."""
    if n == 0:
        return [], [], []
    outputs, errors = predict_columns(model, columns, n)
    names = list(outputs)
    values = [FloatList(column.tolist()) if column.dtype.kind == "f" else _plain_column(column) for column in outputs.values()]
    return names, values, errors


class FloatList(list):
    """An output column's values, every one a Python float (from a float64 array)."""


_DUMPS_NUMPY = partial(orjson.dumps, option=orjson.OPT_SERIALIZE_NUMPY)


def _json_responses(names: list[str], values: list[list], ids: list | None) -> bytes | None:
    """``orjson.dumps(responses)`` of records that all scored, written from byte pieces: each record
    ``{"id":<id>,"results":{"<name>":<value>,...}}`` from constant pieces and the JSON of each id
    and value, joined (two joins, no response objects). A float column is written by one
    ``orjson.dumps`` of its list, split at its commas (a float's JSON, or ``null``, holds none);
    string ids likewise, split at ``","`` when their JSON holds no backslash (then every ``"`` in
    it is a string's delimiter); any other value by its own ``orjson.dumps``. None (the caller
    builds the objects) when some items have an id and others not, or an output name is not a
    string."""
    if not values or not all(type(name) is str for name in names):
        return None
    n = len(values[0])
    if ids is not None and _MISSING in ids:
        return None
    pieces = [orjson.dumps(column)[1:-1].split(b",") if type(column) is FloatList else list(map(_DUMPS_NUMPY, column))
              for column in values]
    keys = [orjson.dumps(name) + b":" for name in names]
    record = [b"," + key for key in keys]  # the constant pieces of a record, before each value
    if ids is None:  # {"results":{"a":V0,"b":V1}}
        opening, record[0] = b'{"results":{' + keys[0], b""
    else:  # {"id":ID,"results":{"a":V0,"b":V1}}
        opening, record[0] = b'{"id":', b',"results":{' + keys[0]
        quoted = orjson.dumps(ids) if set(map(type, ids)) == {str} else b"\\"
        if b"\\" in quoted:
            pieces.insert(0, list(map(_DUMPS_NUMPY, ids)))
        else:  # the ids' JSON without their quotes: the constant pieces carry them
            pieces.insert(0, quoted[2:-2].split(b'","'))
            opening, record[0] = opening + b'"', b'"' + record[0]
        record.insert(0, b"")
    if any(len(column) != n for column in pieces):
        return None
    columns = [value for constant, column in zip(record, pieces) for value in ((repeat(constant), column) if constant else (column,))]
    text = (b"}}," + opening).join(map(b"".join, zip(*columns)))
    return b"".join((b"[", opening, text, b"}}]"))


_RESPONSES: dict[tuple, Any] = {}


def _responses(names: list[str]) -> Any:
    """``build(ids, rows)``: the responses of records all scored, ``{"id": id, "results":
    {name: value, ...}}`` (no "id" for _MISSING), by a comprehension made for these output names:
    a dict display with constant keys builds each results object at half the cost of
    ``dict(zip(names, row))``."""
    key = tuple(names)
    build = _RESPONSES.get(key)
    if build is None:
        if len(_RESPONSES) > 256:
            _RESPONSES.clear()
        if all(type(name) is str for name in names) and names:
            variables = ", ".join(f"v{j}" for j in range(len(names))) + ","
            results = "{" + ", ".join(f"{name!r}: v{j}" for j, name in enumerate(names)) + "}"
            # The names enter the code only as repr() string literals.
            source = (f"lambda ids, rows, M: [{{'results': {results}}} if i is M else {{'id': i, 'results': {results}}} "
                      f"for i, ({variables}) in zip(ids, rows)]")
            build = eval(compile(source, "<quickscore /batch responses>", "eval"))
        else:
            def build(ids, rows, M):
                return [{"results": r} if i is M else {"id": i, "results": r} for i, r in zip(ids, map(dict, map(zip, repeat(names), rows)))]
        _RESPONSES[key] = build
    return lambda ids, rows: build(ids, rows, _MISSING)


_NUMBERS = frozenset({int, float, type(None)})
_NUMERIC_FIELDS = frozenset({"double", "float"})


def _numeric_fields(model) -> set[str]:
    return {f.name for f in model.schema.inputs if f.data_type in _NUMERIC_FIELDS}


def _columns(model, records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Records as columns. A double/float field whose values are all numbers or null becomes one
    float64 array (null -> NaN, a missing value), which the model reads without converting each
    value; any other column stays as given, so the model judges (and reports) each value itself."""
    numeric = _numeric_fields(model)
    names = list(dict.fromkeys(chain.from_iterable(records)))  # every key, in first-seen order
    if len(names) > 1 and set(map(len, records)) == {len(names)}:
        # Every record has every key (in its own order): transposed in C.
        columns = zip(*map(itemgetter(*names), records))
    else:
        columns = ([r.get(name) for r in records] for name in names)
    return {name: _column(list(column), name in numeric) for name, column in zip(names, columns)}


def _column(column: list, numeric: bool) -> np.ndarray:
    if numeric and set(map(type, column)) <= _NUMBERS:
        try:
            return np.array(column, dtype=np.float64)
        except OverflowError:  # an int beyond float64: the model judges it
            pass
    return np.array(column, dtype=object)


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
