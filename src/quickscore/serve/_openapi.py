"""placeholder"""
import orjson
def openapi() -> bytes:
    return orjson.dumps({"openapi": "3.0.3"})
