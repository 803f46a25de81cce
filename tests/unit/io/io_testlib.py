"""Tiny PMML documents for the reader tests: each test changes one thing in a minimal doc."""

from __future__ import annotations

import pytest

from quickscore.io import read_document
from quickscore.ir import Document

NS44 = "http://www.dmg.org/PMML-4_4"

DD = """<DataDictionary>
  <DataField name="x" optype="continuous" dataType="double"/>
  <DataField name="c" optype="categorical" dataType="string"/>
  <DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>"""

SCHEMA = """<MiningSchema>
  <MiningField name="x"/>
  <MiningField name="c"/>
  <MiningField name="y" usageType="target"/>
</MiningSchema>"""


def pmml(body: str, *, ns: str | None = NS44, version: str | None = "4.4", header: str = "<Header/>",
         dd: str = DD, before: str = "") -> bytes:
    """A whole document: PMML root, Header, DataDictionary, ``before`` (e.g. a
    TransformationDictionary), then ``body`` (the model)."""
    xmlns = f' xmlns="{ns}"' if ns else ""
    ver = f' version="{version}"' if version else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<PMML{xmlns}{ver}>\n{header}\n{dd}\n{before}\n{body}\n</PMML>\n'.encode()


def tree(nodes: str = '<Node score="1"><True/></Node>', *, attrs: str = 'functionName="regression"',
         inside: str = "", **kw) -> bytes:
    """A TreeModel document: ``inside`` goes between MiningSchema and the root Node."""
    return pmml(f"<TreeModel {attrs}>\n{SCHEMA}\n{inside}\n{nodes}\n</TreeModel>", **kw)


def node_with(predicate: str, **kw) -> bytes:
    """A TreeModel whose root Node has one child Node with ``predicate``."""
    return tree(f'<Node score="0"><True/><Node score="1">{predicate}</Node></Node>', **kw)


def regression(tables: str = '<RegressionTable intercept="1.5"/>', *, attrs: str = 'functionName="regression"',
               inside: str = "", **kw) -> bytes:
    return pmml(f"<RegressionModel {attrs}>\n{SCHEMA}\n{inside}\n{tables}\n</RegressionModel>", **kw)


def mining(segments: str, *, attrs: str = 'functionName="regression"', seg_attrs: str = 'multipleModelMethod="sum"',
           seg_inside: str = "", **kw) -> bytes:
    return pmml(
        f"<MiningModel {attrs}>\n{SCHEMA}\n<Segmentation {seg_attrs}>{seg_inside}\n{segments}\n</Segmentation>\n</MiningModel>",
        **kw,
    )


def segment(model: str | None = None, *, attrs: str = 'id="1"', predicate: str = "<True/>") -> str:
    if model is None:
        model = f'<TreeModel functionName="regression">{SCHEMA}<Node score="1"><True/></Node></TreeModel>'
    return f"<Segment {attrs}>{predicate}{model}</Segment>"


def read(data: bytes | str) -> Document:
    if isinstance(data, str):
        data = data.encode()
    return read_document(data)


def model(data: bytes | str):
    return read(data).model


def child(data: bytes | str):
    """The first child Node of the root Node of a TreeModel document."""
    return model(data).root.children[0]


def raises(exc: type, data: bytes | str, *fragments: str) -> str:
    """Reading ``data`` raises ``exc`` with a message containing every fragment."""
    with pytest.raises(exc) as info:
        read(data)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


def line_of(data: bytes, needle: str) -> int:
    """1-based line of the first occurrence of ``needle``."""
    text = data.decode()
    return text[: text.index(needle)].count("\n") + 1
