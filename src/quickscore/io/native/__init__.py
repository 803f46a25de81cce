"""Native model formats (XGBoost, LightGBM, JSON coefficients) read into the same IR as PMML.

Each module here defines ``FORMATS``: rows of :data:`quickscore.io.FORMATS` (a name, a
sniffer over the first bytes, a reader). Importing this package registers them; PMML stays
first in the table, so XML is always read as PMML.
"""

from __future__ import annotations

import importlib

from quickscore.io import register_format

#: The modules of native readers, in sniffing order.
_MODULES = ("xgboost", "lightgbm", "coefficients")

for _name in _MODULES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a reader not written yet
        if exc.name != f"{__name__}.{_name}":
            raise
        continue
    for _fmt in getattr(_module, "FORMATS", ()):
        register_format(_fmt)
