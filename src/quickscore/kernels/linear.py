"""The numba kernel of a RegressionTable whose predictors are all plain numeric ones.

``models/regression.py`` sums a table as JPMML-Evaluator does, term by term in document
order: ``y = 0.0; y = y + c1 * x1; ...; y = y + intercept``. numpy does that with two passes
over the batch per predictor (a product into a temporary, then the sum); this kernel does the
same IEEE operations, in the same order, row by row, in one pass: the results are bit-identical
(no fastmath, so LLVM neither reorders the sums nor fuses a product and a sum into an FMA).

Loop structure::

    y[:] = 0.0
    for j, x in enumerate(columns):          # predictors in document order
        for i in rows: y[i] = y[i] + coefficients[j] * x[i]    # one pass, vectorised, no branch
    for i in rows: y[i] = y[i] + intercept

(One pass per predictor over the whole batch measured 0.74 ms per 100k rows x 20 predictors,
against 1.52 ms for numpy's two and 1.62 ms for row blocks indexing the tuple at run time.)

Arrays: ``columns`` a tuple of k float64 C-contiguous arrays of n rows (NaN: missing, which
propagates to y as PMML's "the result evaluates to a missing value"); ``coefficients``
float64 (k,); ``out`` float64 (n,).
"""

from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit

from quickscore.kernels.options import NJIT

@njit(**NJIT)
def dense_sum(columns, coefficients, intercept, out):
    """out = ((0.0 + c[0] * columns[0]) + c[1] * columns[1] + ...) + intercept, row by row."""
    n = out.shape[0]
    for i in range(n):
        out[i] = 0.0
    j = 0
    for x in literal_unroll(columns):
        c = coefficients[j]
        j += 1
        for i in range(n):
            out[i] = out[i] + c * x[i]
    for i in range(n):
        out[i] = out[i] + intercept


def table_sum(columns: list, coefficients: np.ndarray, intercept: float, n: int) -> np.ndarray:
    """``dense_sum`` of ``n`` rows into a new array (the columns as contiguous float64)."""
    out = np.empty(n)
    dense_sum(tuple(np.ascontiguousarray(c, dtype=np.float64) for c in columns), coefficients, float(intercept), out)
    return out
