"""The memory layout the tree kernels read: op codes and record types (see ``trees``).

Kept apart from the lowering code because numba's on-disk cache does not notice changes in
modules a kernel imports: ``tree_kernels.DEPENDENCY_FINGERPRINT`` hashes this file and
``lanes.py`` (a unit test checks it; ``python -m quickscore.kernels._codegen`` updates it).
"""

from __future__ import annotations

import numpy as np

OP_LE = 0
"""``x <= threshold``. threshold NaN: FALSE for every present x (isMissing / isNotMissing,
``x < -inf``, empty sets and comparisons with a NaN value are written this way)."""
OP_EQ = 1
"""``x == threshold`` (numeric equal / notEqual, categorical equal / notEqual on codes, one-element sets)."""
OP_BITS = 2
"""``x`` (a category code) is in the bitset at ``int(threshold)`` of ``TreeArrays.bitsets``."""
OP_SORTED = 3
"""``x`` is in the sorted float64 set at ``int(threshold)`` of ``TreeArrays.set_values``."""

UNSEEN = -1.0
"""The code of a present categorical value that is not in the field's category table."""

MAX_LEVELS = 32767

NODE_DTYPE = np.dtype(
    [
        ("threshold", "<f8"),
        ("feature", "<i4"),
        ("true_next", "<i4"),
        ("false_next", "<i4"),
        ("missing_next", "<i4"),
        ("op", "i1"),
        ("_pad", "i1"),
        ("lv_true", "<i2"),
        ("lv_false", "<i2"),
        ("lv_missing", "<i2"),
    ],
    align=True,
)
"""One test of the decision graph; 32 bytes, so a test is one half cache line.

* ``threshold`` float64: OP_LE / OP_EQ: the comparison value (exact: the PMML value parsed as
  the field's dataType, float32-rounded for dataType float; ``lessThan t`` is stored as
  ``<= nextafter(t, -inf)``; NaN = never TRUE). OP_BITS / OP_SORTED: the offset of the set
  in ``bitsets`` / ``set_values`` (an integer held as a float).
* ``feature`` int32: the column of the input matrix.
* ``true_next`` / ``false_next`` / ``missing_next`` int32: the next test (>= 0) when the
  condition holds / does not hold / x is NaN; a negative value is a terminal ``-(g + 2)``:
  the walk ends with global node index ``g`` (-1: no prediction).
* ``op`` int8: OP_LE, OP_EQ, OP_BITS, OP_SORTED.
* ``lv_true`` / ``lv_false`` / ``lv_missing`` int16: missing levels (defaultChild jumps)
  added when the walk takes that exit. Zero unless missingValueStrategy is defaultChild.
"""


FAST_DTYPE = np.dtype([("threshold", "<f8"), ("true_next", "<i4"), ("false_next", "<i4")])
"""The hot part of a test (16 bytes): walks of rows without NaN read only this and
``TreeArrays.features`` (int32: ``feature | op << OP_SHIFT``, so an OP_LE test's entry is
its column). Same meaning as the NODE_DTYPE fields of the same name."""

FAST32_DTYPE = np.dtype([("key", "<i8"), ("true_next", "<i4"), ("false_next", "<i4")])
"""A test of the float32 walk (``ensemble.walk32``), 16 bytes, one load for the comparison
value and the column: ``key = order32(threshold) << 32 | column`` with ``threshold`` the
largest float32 <= the FAST_DTYPE threshold. The block's values are held as
``order32(float32(x)) << 32`` (``tree_kernels._split32``), so ``x <= threshold`` is the
integer test ``xkey <= key`` (equal keys: the column bits are >= 0). ``true_next`` /
``false_next``: as in FAST_DTYPE.

``order32(f)``: the float32's bits as an int32 b, then ``b ^ ((b >> 31) & 0x7fffffff)``: an
integer whose order is the order of the floats (negative floats' magnitude bits flipped),
once -0.0 is made +0.0 (``f + 0.0``; -0.0 == 0.0 in IEEE 754) on both sides. A NaN threshold
(FALSE for every x) gets ``ORDER32_NAN``, below ``order32(-inf)``."""

ORDER32_NAN = -(1 << 31)

OP_SHIFT = 24
MAX_COLUMNS = 1 << OP_SHIFT
