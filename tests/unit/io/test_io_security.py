"""PMML reader: hostile and broken input is refused quickly with InvalidMarkup."""

from __future__ import annotations

import time

import pytest
from io_testlib import NS44, SCHEMA, line_of, raises, read, tree

from quickscore.errors import InvalidMarkup
from quickscore.io import read_document
from quickscore.io.pmml import MAX_DEPTH


def test_not_xml():
    raises(InvalidMarkup, b"PK\x03\x04 this is a zip file", "Not a PMML document", "PK\\x03\\x04")


def test_json_is_not_pmml():
    raises(InvalidMarkup, b'{"something": "else"}', "Not a PMML document")


def test_json_that_looks_like_xgboost_goes_to_its_reader():
    from quickscore.errors import NativeFormat

    raises(NativeFormat, b'{"learner": {}}', "XGBoost")


def test_empty_file():
    raises(InvalidMarkup, b"", "Not a PMML document: the content is empty")


def test_blank_file():
    raises(InvalidMarkup, b"  \n\t\n", "empty")


def test_only_an_xml_declaration():
    raises(InvalidMarkup, b'<?xml version="1.0"?>\n', "empty document")


def test_multipart_wrapper_is_not_pmml():  # a form upload saved as is (corpus: gopmml)
    data = b'--83e2\r\nContent-Disposition: form-data; name="file"\r\n\r\n' + tree() + b"\r\n--83e2--"
    raises(InvalidMarkup, data, "Not a PMML document", "--83e2")


def test_wrong_root():
    raises(InvalidMarkup, f'<TreeModel xmlns="{NS44}" functionName="regression">{SCHEMA}</TreeModel>',
           "Not a PMML document: the root element is <TreeModel>", "expected <PMML>", "fragment")


def test_non_pmml_root():
    raises(InvalidMarkup, b"<html><body/></html>", "the root element is <html> at line 1, expected <PMML>")


def test_lowercase_pmml_root():
    raises(InvalidMarkup, tree().replace(b"<PMML", b"<pmml").replace(b"</PMML>", b"</pmml>"),
           "the root element is <pmml>", "case-sensitive")


def test_doctype_with_internal_entity_is_refused():
    data = tree().replace(b"<PMML", b'<!DOCTYPE PMML [<!ENTITY v "1.5">]>\n<PMML', 1).replace(b'score="1"', b'score="&v;"')
    raises(InvalidMarkup, data, "DOCTYPE", "line 2")


def test_plain_doctype_is_refused():
    raises(InvalidMarkup, tree().replace(b"<PMML", b"<!DOCTYPE PMML>\n<PMML", 1), "DOCTYPE")


def test_billion_laughs_is_refused_quickly():
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)]
    data = ("<?xml version=\"1.0\"?>\n<!DOCTYPE PMML [" + "".join(ents) + f']>\n<PMML xmlns="{NS44}" version="4.4">&lol9;</PMML>').encode()
    t0 = time.perf_counter()
    raises(InvalidMarkup, data, "DOCTYPE")
    assert time.perf_counter() - t0 < 1.0


def test_external_entity_is_refused_without_reading_the_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        data = tree().replace(b"<PMML", f'<!DOCTYPE PMML [<!ENTITY xxe SYSTEM "{target}">]>\n<PMML'.encode(), 1)
        data = data.replace(b'<Header/>', b'<Header description="&xxe;"/>')
        msg = raises(InvalidMarkup, data, "DOCTYPE")
        assert "TOP-SECRET" not in msg and "root:" not in msg


def test_external_dtd_is_refused():
    raises(InvalidMarkup, tree().replace(b"<PMML", b'<!DOCTYPE PMML SYSTEM "http://example.com/pmml.dtd">\n<PMML', 1), "DOCTYPE")


def test_undeclared_entity_reference_is_invalid():
    raises(InvalidMarkup, tree().replace(b'score="1"', b'score="&nope;"'), "Not well-formed XML", "undefined entity")


def test_deep_nesting_is_refused_quickly():
    depth = 10_000
    nodes = "<Node><True/>" * depth + "</Node>" * depth
    data = tree(nodes)
    t0 = time.perf_counter()
    msg = raises(InvalidMarkup, data, f"nested deeper than {MAX_DEPTH} elements", "PMML/TreeModel/Node/Node")
    assert time.perf_counter() - t0 < 1.0
    assert len(msg) < 1000  # the path is abbreviated


def test_deep_nesting_inside_ignored_content_is_refused_too():
    data = tree(inside="<Extension>" + "<a>" * 10_000 + "</a>" * 10_000 + "</Extension>")
    raises(InvalidMarkup, data, "nested deeper than")


def test_nesting_below_the_limit_is_read():
    depth = 500
    root = read(tree("<Node><True/>" * depth + "</Node>" * depth)).model.root
    n = 1
    while root.children:
        root = root.children[0]
        n += 1
    assert n == depth


def test_truncated_file():
    data = tree('<Node score="1"><True/><Node score="2"><True/></Node></Node>')
    raises(InvalidMarkup, data[: data.index(b"<Node score=\"2\"") + 10], "Not well-formed XML")


def test_truncated_after_an_element():
    data = tree()
    raises(InvalidMarkup, data[: data.index(b"</TreeModel>")], "Not well-formed XML", "truncated")


def test_mismatched_tag_names_the_line():
    data = tree().replace(b"</TreeModel>", b"</TreeModels>")
    raises(InvalidMarkup, data, "Not well-formed XML: mismatched tag", f"line {line_of(data, '</TreeModels>')}")


def test_junk_after_the_document():
    raises(InvalidMarkup, tree() + b"<PMML/>", "Not well-formed XML")


def test_unknown_encoding_is_invalid():
    raises(InvalidMarkup, tree().replace(b'encoding="UTF-8"', b'encoding="x-no-such-codec"'), "unsupported encoding")


def test_multi_byte_encoding_expat_cannot_read_is_invalid():
    raises(InvalidMarkup, tree().replace(b'encoding="UTF-8"', b'encoding="shift_jis"'), "unsupported encoding")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-8-sig", "iso-8859-1"])
def test_other_encodings_are_read(codec):
    text = tree().decode().replace('encoding="UTF-8"', f'encoding="{"utf-16" if codec.startswith("utf-16") else codec.replace("-sig", "")}"')
    data = text.encode(codec)
    if codec == "utf-16-le":
        data = b"\xff\xfe" + data
    assert read_document(data).model.root.score == "1"


def test_reading_does_not_open_other_files(monkeypatch, tmp_path):
    import builtins

    path = tmp_path / "m.pmml"
    path.write_bytes(tree())
    opened = []
    real_open = builtins.open

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    read_document(path)
    assert opened == [str(path)]


def test_gc_is_restored_after_an_error():
    import gc

    assert gc.isenabled()
    raises(InvalidMarkup, tree('<Node recordCount="x"><True/></Node>'), "recordCount")
    assert gc.isenabled()
