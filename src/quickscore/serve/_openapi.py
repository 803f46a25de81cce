"""The OpenAPI 3.0 description served at /openapi.json (built once, from the route table)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

import quickscore

_ERROR_V2 = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_ERROR_OS = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
_TENSOR_META = {"type": "object", "properties": {
    "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}}
_SCALAR = {"nullable": True, "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
_FIELD = {"type": "object", "properties": {
    "id": {"type": "string"}, "dataType": {"type": "string"}, "opType": {"type": "string"},
    "values": {"type": "array", "items": {}}}}

SCHEMAS: dict[str, Any] = {
    "V2Error": _ERROR_V2,
    "OpenscoringError": _ERROR_OS,
    "ServerMetadata": {"type": "object", "properties": {
        "name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}},
    "ModelMetadata": {"type": "object", "properties": {
        "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}}, "platform": {"type": "string"},
        "inputs": {"type": "array", "items": _TENSOR_META}, "outputs": {"type": "array", "items": _TENSOR_META}}},
    "InferenceRequest": {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": {
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "inputs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": False, "properties": {
                "name": {"type": "string", "description": "A model input field (or one [N, k] tensor, columns in metadata order)"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                                        "INT32", "INT64", "FP16", "FP32", "FP64", "BF16", "BYTES"]},
                "parameters": {"type": "object"},
                "data": {"type": "array", "items": {}, "description": "Row-major values; null is a missing value"}}}},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "parameters": {"type": "object"}}}}}},
    "InferenceResponse": {"type": "object", "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
            "data": {"type": "array", "items": {}}}}}}},
    "ModelResponse": {"type": "object", "properties": {
        "id": {"type": "string"}, "miningFunction": {"type": "string"}, "summary": {"type": "string"},
        "properties": {"type": "object"},
        "schema": {"type": "object", "properties": {
            "inputFields": {"type": "array", "items": _FIELD}, "targetFields": {"type": "array", "items": _FIELD},
            "outputFields": {"type": "array", "items": _FIELD}}}}},
    "BatchModelResponse": {"type": "object", "properties": {
        "responses": {"type": "array", "items": {"$ref": "#/components/schemas/ModelResponse"}}}},
    "EvaluationRequest": {"type": "object", "additionalProperties": False, "properties": {
        "id": {"type": "string"}, "arguments": {"type": "object", "additionalProperties": _SCALAR}}},
    "EvaluationResponse": {"type": "object", "properties": {
        "id": {"type": "string"}, "results": {"type": "object", "additionalProperties": _SCALAR},
        "message": {"type": "string", "description": "Why this record was not scored (batch mode)"}}},
    "BatchEvaluationRequest": {"type": "object", "additionalProperties": False, "properties": {
        "id": {"type": "string"}, "requests": {"type": "array", "items": {"$ref": "#/components/schemas/EvaluationRequest"}}}},
    "BatchEvaluationResponse": {"type": "object", "properties": {
        "id": {"type": "string"}, "responses": {"type": "array", "items": {"$ref": "#/components/schemas/EvaluationResponse"}}}},
}

# handler -> (summary, request body schema or media type, success status, response schema or media type)
_OPERATIONS: dict[str, tuple[str, Any, str, Any]] = {
    "v2_server_metadata": ("Server metadata", None, "200", "ServerMetadata"),
    "v2_live": ("Server liveness", None, "200", {"type": "object", "properties": {"live": {"type": "boolean"}}}),
    "v2_ready": ("Server readiness: 200 once the models have loaded, 503 before", None, "200",
                 {"type": "object", "properties": {"ready": {"type": "boolean"}}}),
    "v2_model_metadata": ("Model metadata: inputs and outputs (name, datatype, shape)", None, "200", "ModelMetadata"),
    "v2_model_ready": ("Model readiness", None, "200", {"type": "object", "properties": {
        "name": {"type": "string"}, "ready": {"type": "boolean"}}}),
    "v2_infer": ("Score records: one input tensor per column", "InferenceRequest", "200", "InferenceResponse"),
    "os_list": ("Summaries of all models", None, "200", "BatchModelResponse"),
    "os_model": ("Summary and schema of a model", None, "200", "ModelResponse"),
    "os_evaluate": ("Score one record", "EvaluationRequest", "200", "EvaluationResponse"),
    "os_deploy": ("Deploy a PMML document (admin token; 201 created, 200 replaced)", "application/xml", "201", "ModelResponse"),
    "os_undeploy": ("Undeploy a model (admin token)", None, "200", {"type": "object"}),
    "os_batch": ("Score records, each isolated", "BatchEvaluationRequest", "200", "BatchEvaluationResponse"),
    "os_csv": ("Score a CSV document (delimiter detected; Id column echoed)", "text/plain", "200", "text/plain"),
    "os_download": ("Download the model file (admin token)", None, "200", "application/xml"),
    "metrics": ("Prometheus metrics", None, "200", "text/plain"),
    "openapi": ("This description", None, "200", {"type": "object"}),
    "root": ("Where things are", None, "200", {"type": "object"}),
}

_ERRORS = {
    "v2": {"400": "Bad request (malformed JSON, unknown key, input or datatype, invalid value)", "404": "Unknown model",
           "413": "Body or batch too large", "503": "Models still loading", "504": "Scoring exceeded the request timeout"},
    "openscoring": {"400": "Bad input", "403": "Admin token missing or wrong", "404": "Unknown model",
                    "413": "Body or batch too large", "503": "Models still loading", "504": "Scoring exceeded the request timeout"},
    "ops": {},
}


def _paths(pattern: str) -> list[str]:
    """OpenAPI path templates of one route pattern (the optional /versions/{version} as its own path)."""
    path = pattern.replace("(?:/openscoring)?", "").replace(r"\.", ".")
    path = path.replace("(?P<model>[^/]+)", "{model}")
    with_version = "(?:/versions/(?P<version>[^/]+))?"
    if with_version in path:
        return [path.replace(with_version, ""), path.replace(with_version, "/versions/{version}")]
    return [path]


def _content(schema: Any) -> dict:
    if isinstance(schema, str) and "/" in schema:
        return {schema: {"schema": {"type": "string"}}}
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"application/json": {"schema": ref}}


@lru_cache(maxsize=1)
def openapi() -> bytes:
    from quickscore.serve._app import ROUTES

    paths: dict[str, dict] = {}
    for method, pattern, handler, endpoint, protocol in ROUTES:
        summary, body, status, response = _OPERATIONS[handler]
        error_schema = "OpenscoringError" if protocol == "openscoring" else "V2Error"
        for path in _paths(pattern):
            operation: dict[str, Any] = {
                "operationId": endpoint + ("_version" if "{version}" in path else ""),
                "summary": summary,
                "tags": [protocol],
                "responses": {status: {"description": "OK", "content": _content(response)},
                              **{code: {"description": text, "content": _content(error_schema)}
                                 for code, text in _ERRORS[protocol].items()}},
            }
            parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                          for name in ("model", "version") if "{" + name + "}" in path]
            if handler == "os_csv":
                parameters += [{"name": "delimiterChar", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "quoteChar", "in": "query", "required": False, "schema": {"type": "string"}}]
            if parameters:
                operation["parameters"] = parameters
            if body is not None:
                operation["requestBody"] = {"required": True, "content": _content(body)}
            if handler in ("os_deploy", "os_undeploy", "os_download"):
                operation["security"] = [{"adminToken": []}]
            paths.setdefault(path, {})[method.lower()] = operation
    document = {
        "openapi": "3.0.3",
        "info": {"title": "quickscore model server", "version": quickscore.__version__,
                 "description": "Open Inference Protocol (KServe V2) REST under /v2 and an Openscoring-compatible REST "
                                "API under /model (also under /openscoring/model). See docs/serving.md."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
    }
    return orjson.dumps(document)
