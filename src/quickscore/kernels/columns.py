"""Column kernels of the batch input path: one pass where numpy takes several.

For 100k rows of W1 (20 float fields, a 100-tree forest) the input path spent ~10 ms per call
on one thread before the kernel's walk (``schema.values.parse_column``: two ``astype`` and an
``isnan`` per column; ``TreeArrays.encode``: 500 slice assignments into the matrix). That part
does not get faster with more threads, so at 2 threads it held the scaling down
(~8% of a call). These kernels do the same work in one pass each, bit for bit:

* ``round32``: a float field's float64 values rounded to float32 and back, and its missing
  mask (NaN), as ``values.astype(np.float32).astype(np.float64)`` and ``np.isnan`` of that.
  The float64 -> float32 conversion is the C cast both ways (IEEE round to nearest even,
  out of range -> +-inf, NaN stays NaN); numba does not raise the overflow numpy's
  ``errstate(over="ignore")`` silenced.
* ``fill_rows``: rows [r0, r1) of the input matrix from its columns, read through their
  addresses (a column list of any length, one compiled signature), in blocks of rows so
  that each block of the C-order matrix is written while in cache; ``TreeArrays.encode``
  runs it on the batch's kernel threads (each thread its own rows).
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from quickscore.kernels.options import NJIT


@intrinsic
def _f64_at(typingctx, addr):
    """A float64 pointer from an address (the caller keeps the array alive)."""
    sig = types.CPointer(types.float64)(types.intp)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@njit(**NJIT)
def round32(values, out, missing):
    """out[i] = float64(float32(values[i])); missing[i] = out[i] is NaN."""
    for i in range(values.shape[0]):
        y = np.float64(np.float32(values[i]))
        out[i] = y
        missing[i] = np.isnan(y)


# Rows per block of ``fill_rows``: 512 rows x 20 columns x 8 bytes = 80 KB of the matrix
# (measured 100k x 20: 512 and 2048 alike, 2.2-2.3 ms against 3.2-3.6 ms for numpy's blocks).
FILL_BLOCK = 512


@njit(**NJIT)
def fill_rows(X, addrs, cols, r0, r1, block):
    """X[r, cols[j]] = column j's value r for r in [r0, r1), ``block`` rows at a time: column j
    is a contiguous float64 array of X.shape[0] values at address addrs[j]. (The signature of
    a batch kernel: ``options.run_chunks`` spreads the rows over threads.)"""
    n = X.shape[0]
    for a in range(r0, r1, block):
        b = min(a + block, r1)
        for j in range(addrs.shape[0]):
            src = carray(_f64_at(addrs[j]), (n,))
            c = cols[j]
            for r in range(a, b):
                X[r, c] = src[r]
