"""``kernels/row.py`` is the output of its generator (``kernels._row_codegen``). The kernels
it holds are tested elsewhere: ``sum_values_pairs`` on ``row_pack.pack_pairs`` in
test_kernel_row_pairs.py, ``proba2_le32`` on ``row_pack.pack_le32`` in
tests/models/test_record_forest32.py."""

from __future__ import annotations

from quickscore.kernels import _row_codegen


def test_row_py_is_the_output_of_its_generator():
    # numba's on-disk cache needs the generated source as a file: regenerate it with
    # `python -m quickscore.kernels._row_codegen`.
    assert (_row_codegen.Path(_row_codegen.__file__).with_name("row.py")).read_text() == _row_codegen.generate()
