"""The Open Inference Protocol (KServe V2) REST endpoints, for tabular models.

Spec (kserve/open-inference-protocol, REST): "$inference_request = { "id" : $string #optional,
"parameters" : $parameters #optional, "inputs" : [ $request_input, ... ], "outputs" : [
$request_output, ... ] #optional }" and "$request_input = { "name" : $string, "shape" : [
$number, ... ], "datatype" : $string, "parameters" : $parameters #optional, "data" : $tensor_data }".

Tabular mapping used here: one input tensor per model input field (shape ``[N]`` or
``[N, 1]``; BYTES for strings; ``null`` for a missing value), one output tensor per output
column. As in KServe's own PMML/sklearn servers, a single 2-D tensor ``[N, k]`` whose name is not
a field is also accepted: its columns are the model's inputs in metadata order.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

import quickscore
from quickscore.serve._app import App, HTTPError, Request, Response, json_response, parse_json
from quickscore.serve._batch import floats, predict_columns
from quickscore.serve._registry import Entry

# Spec: "Tensor Data Types": BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES.
# The Python types a JSON value of each may have (null = missing is always allowed).
_NONE = type(None)
_INTEGERS = frozenset({int, _NONE})
_NUMBERS = frozenset({int, float, _NONE})
DATATYPES: dict[str, frozenset] = {
    "BOOL": frozenset({bool, _NONE}),
    **{t: _INTEGERS for t in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64")},
    **{t: _NUMBERS for t in ("FP16", "FP32", "FP64", "BF16")},
    "BYTES": frozenset({str, _NONE}),
}
_NUMERIC = frozenset(t for t in DATATYPES if t not in ("BOOL", "BYTES"))
_FLOATS = frozenset(t for t, allowed in DATATYPES.items() if allowed == _NUMBERS)

# PMML / quickscore data types -> tensor data type.
_FIELD_DATATYPE = {"double": "FP64", "float": "FP32", "integer": "INT64", "boolean": "BOOL", "string": "BYTES"}

_REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
_INPUT_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_OUTPUT_KEYS = frozenset({"name", "parameters"})


_SIGNATURES: dict[int, tuple] = {}


def _signature(entry: Entry) -> tuple[list[dict], list[dict], dict[str, str]]:
    """Metadata inputs, outputs, and the datatype of every output column (cached per entry).

    The cache holds a weak reference to the entry: a strong one kept every replaced model alive
    (the 10-minute soak's workers grew by 230% over 56 reloads)."""
    cached = _SIGNATURES.get(id(entry))
    if cached is not None and cached[0]() is entry:
        return cached[1]
    if len(_SIGNATURES) > 1024:
        _SIGNATURES.clear()
    signature = _compute_signature(entry)
    _SIGNATURES[id(entry)] = (weakref.ref(entry), signature)
    return signature


def _compute_signature(entry: Entry) -> tuple[list[dict], list[dict], dict[str, str]]:
    model = entry.model
    inputs = [{"name": f.name, "datatype": _FIELD_DATATYPE.get(f.data_type, "BYTES"), "shape": [-1]} for f in model.schema.inputs]
    declared = {f.name: f.data_type for f in [*model.schema.targets, *model.schema.outputs]}
    types = {name: _FIELD_DATATYPE.get(declared.get(name, "double"), "BYTES") for name in model.output_names}
    outputs = [{"name": name, "datatype": types[name], "shape": [-1]} for name in model.output_names]
    return inputs, outputs, types


# --------------------------------------------------------------------------- metadata and health


async def v2_server_metadata(app: App, request: Request, entry: None) -> Response:
    return json_response({"name": "quickscore", "version": quickscore.__version__, "extensions": ["binary_tensor_data"]})


async def v2_live(app: App, request: Request, entry: None) -> Response:
    return json_response({"live": True})


async def v2_ready(app: App, request: Request, entry: None) -> Response:
    # Spec: "A 200 status code indicates true"; not ready answers 503, as KServe's own server does.
    ready = app.registry.ready
    return json_response({"ready": ready}, 200 if ready else 503)


async def v2_model_metadata(app: App, request: Request, entry: Entry) -> Response:
    inputs, outputs, _ = _signature(entry)
    return json_response({
        "name": entry.name, "versions": ["1"], "platform": f"quickscore_{entry.model.info.get('format') or 'model'}",
        "inputs": inputs, "outputs": outputs,
    })


async def v2_model_ready(app: App, request: Request, entry: Entry) -> Response:
    return json_response({"name": entry.name, "ready": True})


# --------------------------------------------------------------------------- inference


async def v2_infer(app: App, request: Request, entry: Entry) -> Response:
    header_length = request.headers.get(b"inference-header-content-length")
    if header_length is None:
        body = parse_json(request.body)
    else:
        body = _binary_request(request.body, header_length)
    if not isinstance(body, dict):
        raise HTTPError(400, f"the inference request must be a JSON object, not {_kind(body)}")
    unknown = body.keys() - _REQUEST_KEYS
    if unknown:
        raise HTTPError(400, f"unknown key(s) in the inference request: {', '.join(sorted(unknown))} "
                             f"(allowed: {', '.join(sorted(_REQUEST_KEYS))})")
    inputs = body.get("inputs")
    record = _one_record(inputs, entry.input_names) if type(inputs) is list else None
    if record is not None:
        n = 1
    else:
        columns, n = _columns(inputs, entry)
        if n == 1:
            record = {name: values[0] for name, values in columns.items()}
    _, _, types = _signature(entry)
    names = _requested(body.get("outputs"), types)
    model = entry.model
    if n == 1:
        try:
            result = await app.score_one(request, entry, record)
        except quickscore.EvaluationError as exc:
            raise HTTPError(400, f"record 0: {exc}") from None
        data = {name: [_one(result.get(name), types[name])] for name in names}
    else:
        app.check_rows(n)
        data = await app.in_thread(request, _score_batch, model, columns, names, types, n)
    response: dict[str, Any] = {"model_name": entry.name, "model_version": request.params.get("version", "1")}
    if "id" in body:
        response["id"] = body["id"]
    response["outputs"] = [{"name": name, "datatype": types[name], "shape": [n], "data": data[name]} for name in names]
    return json_response(response)


# Binary tensor data extension: "the HTTP body contains the JSON inference request followed by
# the binary tensor data", with "Inference-Header-Content-Length" giving the size of the JSON
# part, and each binary input's "parameters" holding its "binary_data_size". BYTES elements are
# "a 4-byte little-endian length followed by the bytes".
_NUMPY_DTYPE = {"BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "<i1",
                "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}


def _binary_request(raw: bytes, header_length: bytes) -> Any:
    try:
        size = int(header_length)
    except ValueError:
        raise HTTPError(400, f"Inference-Header-Content-Length is not a number: {header_length[:40]!r}") from None
    if not 0 <= size <= len(raw):
        raise HTTPError(400, f"Inference-Header-Content-Length {size} does not fit a body of {len(raw)} bytes")
    body = parse_json(raw[:size])
    offset = size
    for i, tensor in enumerate(body.get("inputs") or [] if isinstance(body, dict) else []):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        n = parameters["binary_data_size"]
        if type(n) is not int or n < 0 or offset + n > len(raw):
            raise HTTPError(400, f"inputs[{i}]: binary_data_size {n!r} does not fit the body")
        if "data" in tensor:
            raise HTTPError(400, f"inputs[{i}]: both 'data' and binary_data_size are given")
        tensor["data"] = _decode(raw[offset:offset + n], tensor.get("datatype"), f"inputs[{i}]")
        offset += n
    if offset != len(raw):
        raise HTTPError(400, f"{len(raw) - offset} bytes of binary tensor data are not claimed by any input")
    return body


def _decode(chunk: bytes, datatype: Any, where: str) -> list:
    if datatype == "BYTES":
        values, k = [], 0
        while k < len(chunk):
            if k + 4 > len(chunk):
                raise HTTPError(400, f"{where}: truncated BYTES element")
            n = int.from_bytes(chunk[k:k + 4], "little")
            try:
                values.append(chunk[k + 4:k + 4 + n].decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise HTTPError(400, f"{where}: a BYTES element is not UTF-8 text: {exc}") from None
            k += 4 + n
        return values
    dtype = _NUMPY_DTYPE.get(datatype)
    if dtype is None:
        raise HTTPError(400, f"{where}: unknown datatype {datatype!r} for binary data")
    if len(chunk) % np.dtype(dtype).itemsize:
        raise HTTPError(400, f"{where}: {len(chunk)} bytes is not a whole number of {datatype} values")
    values = np.frombuffer(chunk, dtype=dtype)
    # NaN is the binary form of a missing number.
    return [None if v != v else v for v in values.tolist()] if values.dtype.kind == "f" else values.tolist()


def _score_batch(model, columns: dict[str, Any], names: list[str], types: dict[str, str], n: int) -> dict[str, Any]:
    """Score a batch (in the scoring thread); the first record that fails answers 400."""
    if n == 0:
        return {name: [] for name in names}
    outputs, errors = predict_columns(model, columns, n)
    if errors.count(None) != n:  # as model.predict(errors="raise") words it
        i = next(i for i, error in enumerate(errors) if error is not None)
        raise HTTPError(400, f"Record {i}: {errors[i]}")
    return {name: _column(outputs[name], types[name]) for name in names}


_ONE = [1]


def _one_record(inputs: list, fields: frozenset) -> dict[str, Any] | None:
    """The record of a well-formed one-record request (every tensor a field's, with exactly the
    keys name, shape [1], datatype and data), else None: _columns then checks the request and
    says what is wrong with it. Subscripts, not method calls: this runs for every input field."""
    record: dict[str, Any] = {}
    try:
        for tensor in inputs:
            data, name = tensor["data"], tensor["name"]
            if (len(tensor) != 4 or tensor["shape"] != _ONE or type(data) is not list or len(data) != 1
                    or type(data[0]) not in DATATYPES[tensor["datatype"]] or type(name) is not str
                    or name not in fields or name in record):
                return None
            record[name] = data[0]
    except (KeyError, TypeError, IndexError):  # not a dict, a key missing, an unhashable datatype
        return None
    return record or None


def _columns(inputs: Any, entry: Entry) -> tuple[dict[str, Any], int]:
    """Input tensors -> {field: values} and the number of records, validating as the spec requires.

    The common case (a field's tensor, shape [N] or [N, 1], flat data of the right types) runs
    a few C-level checks per tensor; the messages are built only when something is wrong.
    """
    if type(inputs) is not list or not inputs:
        raise HTTPError(400, "'inputs' must be a non-empty list of input tensors")
    fields = entry.input_names
    columns: dict[str, Any] = {}
    n: int | None = None
    for i, tensor in enumerate(inputs):
        if type(tensor) is not dict or not tensor.keys() <= _INPUT_KEYS:
            _bad_tensor(i, tensor)
        name, datatype, shape, data = tensor.get("name"), tensor.get("datatype"), tensor.get("shape"), tensor.get("data")
        allowed = DATATYPES.get(datatype)
        if type(name) is not str or allowed is None or type(shape) is not list or type(data) is not list:
            _bad_tensor(i, tensor)
        if len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0:
            rows = size = shape[0]
        elif len(shape) == 2 and type(shape[0]) is int and type(shape[1]) is int and shape[0] >= 0 and shape[1] >= 0:
            rows, size = shape[0], shape[0] * shape[1]
        else:
            _bad_tensor(i, tensor)
        if data and type(data[0]) is list:
            data = _flat(data, _where(i, name))
        if len(data) != size:
            raise HTTPError(400, f"{_where(i, name)}: shape {shape} holds {size} values but 'data' has {len(data)}")
        # Numbers of a float tensor, read in C (None if any value needs a look: null, a string...).
        flat = floats(data) if rows > 1 and datatype in _FLOATS else None
        if flat is None and not (type(data[0]) in allowed if size == 1 else set(map(type, data)) <= allowed):
            bad = next(v for v in data if type(v) not in allowed)
            raise HTTPError(400, f"{_where(i, name)}: datatype {datatype} cannot hold the value {bad!r} ({_kind(bad)})")
        if name in fields:
            if len(shape) == 2 and shape[1] != 1:
                raise HTTPError(400, f"{_where(i, name)}: a field's tensor has shape [N] or [N, 1], not {shape}")
            if name in columns:
                raise HTTPError(400, f"{_where(i, name)}: the input '{name}' is given twice")
            columns[name] = _values(data, datatype, rows) if flat is None else flat
        elif len(inputs) == 1 and len(shape) == 2 and shape[1] == len(fields) and fields:
            width = shape[1]
            for j, field in enumerate(f.name for f in entry.model.schema.inputs):
                columns[field] = _values(data[j::width], datatype, rows) if flat is None else flat[j::width].copy()
        else:
            raise HTTPError(400, f"{_where(i, name)}: unknown input '{name}': model '{entry.name}' has the inputs "
                                 f"{', '.join(sorted(fields)) or '(none)'}")
        if n is not None and rows != n:
            raise HTTPError(400, f"{_where(i, name)}: {rows} records, but the inputs before it have {n}")
        n = rows
    return columns, n or 0


def _where(i: int, name: Any) -> str:
    return f"inputs[{i}] ('{name}')" if isinstance(name, str) else f"inputs[{i}]"


def _bad_tensor(i: int, tensor: Any) -> None:
    """Raise the 400 that says what is wrong with input tensor ``i`` (the slow, precise path)."""
    where = f"inputs[{i}]"
    if not isinstance(tensor, dict):
        raise HTTPError(400, f"{where} must be an object, not {_kind(tensor)}")
    unknown = tensor.keys() - _INPUT_KEYS
    if unknown:
        raise HTTPError(400, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_INPUT_KEYS))})")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise HTTPError(400, f"{where}: 'name' must be a string, not {_kind(name)}")
    where = _where(i, name)
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise HTTPError(400, f"{where}: unknown datatype {datatype!r} (one of {', '.join(DATATYPES)})")
    if "data" not in tensor:
        raise HTTPError(400, f"{where}: 'data' is missing")
    if not isinstance(tensor["data"], list):
        raise HTTPError(400, f"{where}: 'data' must be a list, not {_kind(tensor['data'])}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not shape or not all(type(d) is int and d >= 0 for d in shape):
        raise HTTPError(400, f"{where}: 'shape' must be a list of non-negative integers, not {shape!r}")
    raise HTTPError(400, f"{where}: shape {shape} is not a table column: use [N] or [N, 1] (or one [N, k] tensor)")


def _flat(data: Any, where: str) -> list:
    """Tensor data as one flat, row-major list (the spec allows nested lists)."""
    if not isinstance(data, list):
        raise HTTPError(400, f"{where}: 'data' must be a list, not {_kind(data)}")
    if data and isinstance(data[0], list):
        flat: list = []
        for row in data:
            if not isinstance(row, list):
                raise HTTPError(400, f"{where}: 'data' mixes lists and scalars")
            flat.extend(_flat(row, where) if row and isinstance(row[0], list) else row)
        return flat
    return data


def _values(data: list, datatype: str, rows: int):
    """One column: numbers as float64 (null -> NaN, read as missing), others as given."""
    if rows == 1:
        return data
    if datatype in _NUMERIC:
        return np.array(data, dtype=np.float64)
    return np.array(data, dtype=object)


def _requested(outputs: Any, types: dict[str, str]) -> list[str]:
    """The output columns asked for (all by default)."""
    if outputs is None:
        return list(types)
    if not isinstance(outputs, list):
        raise HTTPError(400, f"'outputs' must be a list, not {_kind(outputs)}")
    names = []
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise HTTPError(400, f"outputs[{i}] must be an object with a string 'name'")
        unknown = out.keys() - _OUTPUT_KEYS
        if unknown:
            raise HTTPError(400, f"outputs[{i}]: unknown key(s) {', '.join(sorted(unknown))}")
        if out["name"] not in types:
            raise HTTPError(400, f"outputs[{i}]: unknown output '{out['name']}' (the model has {', '.join(types)})")
        names.append(out["name"])
    return names


def _one(value: Any, datatype: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if datatype == "BYTES":
        return value if isinstance(value, str) else str(value)
    if datatype in _NUMERIC and datatype[0] in "IU" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _column(values: np.ndarray, datatype: str) -> Any:
    if values.dtype.kind == "f":
        if datatype[0] in "IU" and not np.isnan(values).any():
            return values.astype(np.int64)
        return np.ascontiguousarray(values)  # orjson writes NaN as null (and a C-contiguous array only)
    return [_one(v, datatype) for v in values.tolist()]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
