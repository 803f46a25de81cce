"""Tiny PMML documents for one expression each: ``ev(expression, records)`` (imported by the
tests of this folder; not a conftest, so that it does not shadow another folder's conftest).

Every document declares the same input fields (x, y: double; i, j: integer; f: float; s, t:
string; b: boolean; d: date; dt: dateTime; tm: time; v: a double restricted to [0, 10] with
invalid values kept asIs) and one OutputField holding the expression under test.
"""

from __future__ import annotations

import math
from typing import Any

import quickscore

FIELDS = {
    "x": "double", "y": "double", "i": "integer", "j": "integer", "f": "float", "s": "string", "t": "string",
    "b": "boolean", "d": "date", "dt": "dateTime", "tm": "time",
}
_CONTINUOUS = {"double", "integer", "float"}


def document(expression: str, output_type: str | None = None, transformations: str = "", version: str = "4.4",
             extra_fields: dict[str, str] | None = None) -> bytes:
    fields = {**FIELDS, **(extra_fields or {})}
    dd = "".join(
        f'<DataField name="{n}" optype="{"continuous" if t in _CONTINUOUS else "categorical"}" dataType="{t}"/>' for n, t in fields.items()
    )
    dd += '<DataField name="v" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="10"/></DataField>'
    dd += '<DataField name="c" optype="categorical" dataType="string"><Value value="red"/><Value value="green"/></DataField>'
    ms = "".join(f'<MiningField name="{n}" invalidValueTreatment="asIs"/>' for n in [*fields, "v", "c"])
    ot = ""
    if output_type:
        ot = f' dataType="{output_type}" optype="{"continuous" if output_type in _CONTINUOUS else "categorical"}"'
    ns = version.replace(".", "_")
    return (
        f'<?xml version="1.0"?><PMML version="{version}" xmlns="http://www.dmg.org/PMML-{ns}"><Header/>'
        f'<DataDictionary>{dd}<DataField name="r" optype="continuous" dataType="double"/></DataDictionary>'
        f"{transformations}"
        f'<RegressionModel functionName="regression"><MiningSchema>{ms}<MiningField name="r" usageType="target"/></MiningSchema>'
        f'<Output><OutputField name="out" feature="transformedValue"{ot}>{expression}</OutputField></Output>'
        '<RegressionTable intercept="0"/></RegressionModel></PMML>'
    ).encode()


def load(expression: str, **kw) -> quickscore.Model:
    return quickscore.load(document(expression, **kw))


def ev(expression: str, records: list[dict[str, Any]] | dict[str, Any], **kw) -> list[Any]:
    """The expression's value for each record ("ERROR: <message>" where the record fails)."""
    single = isinstance(records, dict)
    rows = [records] if single else records
    frame = load(expression, **kw).predict(rows)
    out = []
    for value, error in zip(frame["out"], frame["_error"]):
        if isinstance(error, str):
            out.append("ERROR: " + error)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        else:
            out.append(value.item() if hasattr(value, "item") else value)
    return out[0] if single else out


def A(function: str, *args: str, **attrs: str) -> str:
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<Apply function="{function}"{a}>' + "".join(args) + "</Apply>"


def F(name: str, **attrs: str) -> str:
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<FieldRef field="{name}"{a}/>'


def C(value: Any, data_type: str | None = None, **attrs: str) -> str:
    from xml.sax.saxutils import escape

    a = (f' dataType="{data_type}"' if data_type else "") + "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<Constant{a}>{escape(str(value))}</Constant>"


def close(a: Any, b: Any, rel: float = 1e-12) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) or a == b


INF = math.inf
NAN = math.nan

