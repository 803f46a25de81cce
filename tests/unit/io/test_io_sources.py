"""read_document(): sources (path, bytes, file object) and format selection."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from io_testlib import tree

from quickscore.errors import InvalidMarkup
from quickscore.io import FORMATS, read_document


def test_bytes_source():
    doc = read_document(tree())
    assert (doc.model.root.score, doc.source_name) == ("1", None)


def test_bytearray_and_memoryview_sources():
    assert read_document(bytearray(tree())).model.root.score == "1"
    assert read_document(memoryview(tree())).model.root.score == "1"


def test_str_path_source(tmp_path):
    p = tmp_path / "m.pmml"
    p.write_bytes(tree())
    doc = read_document(str(p))
    assert (doc.model.root.score, doc.source_name) == ("1", str(p))


def test_pathlike_source(tmp_path):
    p = tmp_path / "m.pmml"
    p.write_bytes(tree())
    assert read_document(Path(p)).source_name == str(p)


def test_binary_file_object_source(tmp_path):
    p = tmp_path / "m.pmml"
    p.write_bytes(tree())
    with open(p, "rb") as f:
        doc = read_document(f)
        assert not f.closed  # the caller's file stays open
    assert (doc.model.root.score, doc.source_name) == ("1", str(p))


def test_bytesio_source():
    doc = read_document(io.BytesIO(tree()))
    assert (doc.model.root.score, doc.source_name) == ("1", None)


def test_file_object_delivering_small_chunks():
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def read(self, n=-1):
            chunk, self.data = self.data[:7], self.data[7:]
            return chunk

    assert read_document(Trickle(tree())).model.root.score == "1"


def test_text_file_object_is_a_type_error(tmp_path):
    p = tmp_path / "m.pmml"
    p.write_bytes(tree())
    with open(p, encoding="utf-8") as f, pytest.raises(TypeError, match="binary file object"):
        read_document(f)


def test_other_source_type_is_a_type_error():
    with pytest.raises(TypeError, match="path, bytes or a binary file object"):
        read_document(42)


def test_missing_path_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_document(tmp_path / "nope.pmml")


def test_error_messages_name_the_source_file(tmp_path):
    p = tmp_path / "bad.pmml"
    p.write_bytes(tree('<Node recordCount="x"><True/></Node>'))
    with pytest.raises(InvalidMarkup, match="bad.pmml"):
        read_document(p)


def test_format_pmml_is_forced():
    assert read_document(tree(), format="pmml").model.root.score == "1"


def test_forced_pmml_on_non_xml_fails_in_the_xml_reader():
    with pytest.raises(InvalidMarkup, match="Not well-formed XML"):
        read_document(b"hello", format="pmml")


def test_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown format 'onnx'"):
        read_document(tree(), format="onnx")


def test_format_table_lists_pmml_first():
    assert FORMATS[0].name == "pmml" and FORMATS[0].sniff(b"\xef\xbb\xbf  <?xml")


def test_leading_blanks_and_bom_are_sniffed_as_xml():
    data = tree()
    data = data[data.index(b"<PMML"):]  # blanks may precede the root, not an XML declaration
    assert read_document(b"\xef\xbb\xbf\n  " + data).model.root.score == "1"


def test_chunk_boundaries_do_not_matter(monkeypatch):
    import quickscore.io as qio

    monkeypatch.setattr(qio, "CHUNK_SIZE", 5)
    data = tree('<Node score="1"><SimpleSetPredicate field="c" booleanOperator="isIn"><Array type="string">"a b" c</Array></SimpleSetPredicate></Node>')
    assert read_document(data).model.root.predicate.values == ("a b", "c")


def test_registered_format_is_sniffed_and_forced(monkeypatch):
    import quickscore.io as qio
    from quickscore.io import Format, register_format

    qio._register_native()  # the native rows first, so that the patched list keeps them
    monkeypatch.setattr(qio, "FORMATS", list(qio.FORMATS))
    before = [f.name for f in qio.FORMATS]
    seen = []

    def read_fake(chunks, name, options):
        seen.append(b"".join(chunks))
        return "fake-document"

    register_format(Format("fake", lambda head: head.startswith(b"FAKE"), read_fake))
    assert read_document(b"FAKE model") == "fake-document" and seen == [b"FAKE model"]
    assert read_document(b"FAKE again", format="fake") == "fake-document"
    register_format(Format("fake", lambda head: False, read_fake))  # replaced by name
    assert [f.name for f in qio.FORMATS] == before + ["fake"] and before[0] == "pmml"


def test_pmml_reader_refuses_native_options():
    with pytest.raises(ValueError, match="iterations"):
        read_document(b"<PMML/>", iterations=3)
