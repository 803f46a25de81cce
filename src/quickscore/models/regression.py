"""RegressionModel: linear, logistic and multinomial regression, vectorised over the batch.

Each RegressionTable is ``intercept + sum(coef * x ** exponent) + sum(coef * [x == category])
+ sum(coef * x1 * x2 ...)``. PMML: "If the input value is missing, then the result evaluates
to a missing value" for numeric predictors and predictor terms, while "If the input value is
missing, then the categorical field is ignored" for categorical predictors. Terms are added
in the order JPMML-Evaluator adds them (numeric, categorical, terms, intercept last), so the
floating-point result is the same bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import RegressionModel, RegressionTable
from quickscore.models.base import Context
from quickscore.outputs.prediction import Prediction
from quickscore.runtime.frame import Frame
from quickscore.schema.functions import as_float

_SQRT2 = math.sqrt(2.0)
_MAX_DENSE = 256  # more numeric predictors keep the numpy loop (numba types the tuple on each call)


def _probit(y: np.ndarray) -> np.ndarray:
    return 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(-y / _SQRT2)


# Inverse link functions: "normalizationMethod" for one value.
LINKS = {
    "logit": lambda y: 1.0 / (1.0 + np.exp(-y)),
    "probit": _probit,
    "cloglog": lambda y: 1.0 - np.exp(-np.exp(y)),
    "loglog": lambda y: np.exp(-np.exp(-y)),
    "cauchit": lambda y: 0.5 + np.arctan(y) / math.pi,
    "exp": np.exp,
}
_METHODS = ("none", "simplemax", "softmax", *LINKS)


class Table:
    """One lowered RegressionTable."""

    def __init__(self, table: RegressionTable, ctx: Context, model: RegressionModel):
        scope = ctx.scope
        self.intercept = table.intercept
        self.numeric = []
        for p in table.numeric:
            scope.lookup(p.name, model.loc)
            self.numeric.append((p.name, p.coefficient, p.exponent))
        self.categorical = []
        for p in table.categorical:
            decl = scope.lookup(p.name, model.loc)
            value = decl.parse(p.value, f"attribute value of CategoricalPredictor '{p.name}'", model.loc)
            self.categorical.append((p.name, value, p.coefficient))
        self.terms = []
        for t in table.terms:
            for f in t.fields:
                scope.lookup(f, model.loc)
            self.terms.append((t.fields, t.coefficient))
        # Only plain numeric predictors: one numba pass per predictor (kernels/linear.py), the
        # same operations in the same order as the numpy loop below.
        self.dense = (
            not self.categorical
            and not self.terms
            and 1 <= len(self.numeric) <= _MAX_DENSE
            and all(exponent == 1 for _, _, exponent in self.numeric)
        )
        self.coefficients = np.array([coef for _, coef, _ in self.numeric], dtype=np.float64)
        # A table without predictors: ``0.0 + intercept`` on every row (the same IEEE sum as
        # the loop below), so its rows need not be computed where only their NaN-ness counts.
        self.constant = None if (self.numeric or self.categorical or self.terms) else 0.0 + float(self.intercept)

    def evaluate(self, frame: Frame) -> np.ndarray:
        """The table's linear predictor per row; NaN where a numeric input is missing."""
        if self.dense:
            from quickscore.kernels.linear import table_sum

            return table_sum([as_float(frame.get(name)) for name, _, _ in self.numeric], self.coefficients, self.intercept, frame.n)
        y = np.zeros(frame.n)
        term = np.empty(frame.n)
        with np.errstate(all="ignore"):
            for name, coef, exponent in self.numeric:
                x = as_float(frame.get(name))
                # y = y + coef * x ** exponent, in place (the same IEEE operations)
                np.add(y, np.multiply(coef, x if exponent == 1 else np.power(x, exponent), out=term), out=y)
            for name, value, coef in self.categorical:
                values = frame.get(name).values
                if values.dtype.kind == "f":
                    hit = values == value
                else:
                    hit = np.fromiter((v == value for v in values), dtype=bool, count=frame.n)
                y = y + np.where(hit, coef, 0.0)
            for fields, coef in self.terms:
                product = coef * as_float(frame.get(fields[0]))
                for f in fields[1:]:
                    product = product * as_float(frame.get(f))
                y = y + product
            y = y + self.intercept
        return y


class RegressionCore:
    def __init__(self, model: RegressionModel, ctx: Context):
        method = model.normalization_method
        if method not in _METHODS:
            raise InvalidMarkup(f"Invalid normalizationMethod '{method}' of RegressionModel{_where(model)}")
        if not model.tables:
            raise InvalidMarkup(f"RegressionModel has no RegressionTable{_where(model)}")
        self.ctx = ctx
        self.method = method
        self.float32 = model.math_context == "float"
        self.tables = [Table(t, ctx, model) for t in model.tables]
        if ctx.classification:
            if len(model.tables) < 2:
                raise InvalidMarkup(f"A classification RegressionModel needs two or more RegressionTables{_where(model)}")
            labels = []
            for t in model.tables:
                if t.target_category is None:
                    raise InvalidMarkup(f"RegressionTable without targetCategory in a classification model{_where(model)}")
                labels.append(ctx.parse_label(t.target_category, "targetCategory of RegressionTable", model.loc))
            self.labels = tuple(labels)
            self.classes = ctx.classes(labels)
            ordinal = ctx.target is not None and ctx.target.op_type.value == "ordinal"
            self.ordinal = ordinal
            if method == "exp" or (method in ("simplemax", "softmax") and ordinal):
                raise InvalidMarkup(f"normalizationMethod '{method}' is not defined for this classification{_where(model)}")
            if method in ("probit", "cloglog", "loglog", "cauchit") and len(labels) > 2 and not ordinal:
                raise UnsupportedMarkup(f"normalizationMethod '{method}' with more than two categories{_where(model)}")
            last = model.tables[-1]
            self.binary = len(labels) == 2 and not ordinal and (method in ("none", "probit", "cloglog", "loglog", "cauchit", "logit"))
            # JPMML (non-standard): binary softmax with an all-zero second table is the logit.
            self.binary_logit = (
                len(labels) == 2
                and method == "softmax"
                and not (last.numeric or last.categorical or last.terms)
                and last.intercept == 0.0
            )
            self.binary = self.binary or self.binary_logit
            # Where the two probabilities go in the classes' order (None: the classes are not
            # the two labels, e.g. the target declares more values).
            same = len(self.classes) == 2 and set(self.classes) == set(labels) and len(set(labels)) == 2
            self.binary_order = (self.classes.index(labels[0]), self.classes.index(labels[1])) if same else None
        elif len(model.tables) != 1:
            raise InvalidMarkup(f"A regression RegressionModel needs exactly one RegressionTable{_where(model)}")
        elif method == "simplemax":
            raise InvalidMarkup(f"normalizationMethod 'simplemax' is not defined for regression{_where(model)}")

    def _round(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32).astype(np.float64) if self.float32 else y

    def predict(self, frame: Frame) -> Prediction:
        if not self.ctx.classification:
            y = self._round(self.tables[0].evaluate(frame))
            if self.method in LINKS:
                with np.errstate(all="ignore"):
                    y = LINKS["logit" if self.method == "softmax" else self.method](y)
            elif self.method == "softmax":
                y = LINKS["logit"](y)
            return Prediction.regression(self._round(y))
        if self.binary and self.binary_order is not None:
            return self._predict_binary(frame)
        columns = [self._round(t.evaluate(frame)) for t in self.tables]
        undefined = np.isnan(columns[0])
        for y in columns[1:]:
            undefined |= np.isnan(y)
        with np.errstate(all="ignore"):
            if self.binary:
                # Binomial: the first category's probability, the second is its complement
                # (as _probabilities, from the contiguous first column).
                first = np.clip(columns[0], 0.0, 1.0) if self.method == "none" else LINKS["logit" if self.binary_logit else self.method](columns[0])
                probs = np.empty((frame.n, 2), order="F")  # columns contiguous
                probs[:, 0] = first
                np.subtract(1.0, first, out=probs[:, 1])
            else:
                probs = self._probabilities(np.column_stack(columns))
        probs = self._round(probs)
        # "If one or more RegressionTable elements cannot be evaluated, then the predictions
        # are defined by the priorProbability values of the Target element"
        if undefined.any():
            probs[undefined] = np.nan
        return self._classified(probs, frame.n)

    def _predict_binary(self, frame: Frame) -> Prediction:
        """The binomial case of ``predict`` with the same operations on each value, fewer
        passes: a table without predictors is not computed (only a NaN constant would
        matter), the logit is computed in place, and both probabilities are written straight
        into their columns of the classes' order."""
        first_table = self.tables[0]
        y = self._round(first_table.evaluate(frame))
        undefined = None if first_table.constant is not None else np.isnan(y)
        for t in self.tables[1:]:
            if t.constant is None:
                nan = np.isnan(self._round(t.evaluate(frame)))
                undefined = nan if undefined is None else np.logical_or(undefined, nan, out=undefined)
            elif math.isnan(t.constant):
                undefined = np.ones(frame.n, dtype=bool)
        j_first, j_second = self.binary_order
        probs = np.empty((frame.n, 2), order="F")  # columns contiguous
        first = probs[:, j_first]
        with np.errstate(all="ignore"):
            if self.method == "logit" or self.binary_logit:
                # LINKS["logit"]: 1.0 / (1.0 + np.exp(-y)), one operation at a time into ``first``
                np.negative(y, out=first)
                np.exp(first, out=first)
                np.add(1.0, first, out=first)
                np.divide(1.0, first, out=first)
            else:
                first[:] = np.clip(y, 0.0, 1.0) if self.method == "none" else LINKS[self.method](y)
            np.subtract(1.0, first, out=probs[:, j_second])
        probs = self._round(probs)
        # "If one or more RegressionTable elements cannot be evaluated, then the predictions
        # are defined by the priorProbability values of the Target element"
        if undefined is not None and undefined.any():
            probs[undefined] = np.nan
        return Prediction.classification(self.classes, probs)

    def _classified(self, probs: np.ndarray, n: int) -> Prediction:
        """The prediction from the tables' probabilities (columns in the tables' order)."""
        if self.labels == self.classes:
            return Prediction.classification(self.classes, probs)
        if len(self.labels) == len(self.classes):  # the same classes in another order
            ordered = np.empty(probs.shape, order="F")
            for j, c in enumerate(self.classes):
                ordered[:, j] = probs[:, self.labels.index(c)]
            return Prediction.classification(self.classes, ordered)
        ordered = np.full((n, len(self.classes)), np.nan)
        for j, label in enumerate(self.labels):
            ordered[:, self.classes.index(label)] = probs[:, j]
        return Prediction.classification(self.classes, ordered)

    def _probabilities(self, ys: np.ndarray) -> np.ndarray:
        method, k = self.method, ys.shape[1]
        if self.ordinal:
            # Cumulative link: p1 = F(y1), pj = F(yj) - F(y(j-1)), pk = 1 - F(y(k-1)).
            link = (lambda y: np.clip(y, 0.0, 1.0)) if method == "none" else LINKS[method]
            cum = link(ys[:, :-1])
            probs = np.empty_like(ys)
            probs[:, 0] = cum[:, 0]
            probs[:, 1:-1] = cum[:, 1:] - cum[:, :-1]
            probs[:, -1] = 1.0 - cum[:, -1]
            return probs
        if k == 2 and (method in ("none", "probit", "cloglog", "loglog", "cauchit", "logit") or self.binary_logit):
            # Binomial: the first category's probability, the second is its complement.
            first = np.clip(ys[:, 0], 0.0, 1.0) if method == "none" else LINKS["logit" if self.binary_logit else method](ys[:, 0])
            return np.column_stack([first, 1.0 - first])
        if method == "none":
            probs = ys.copy()
            probs[:, -1] = 1.0 - ys[:, :-1].sum(axis=1)
            return probs
        if method == "logit":
            # More than two categories (non-standard): one-vs-rest, each table's logistic
            # normalised to sum to 1 - as scikit-learn's one-vs-rest LogisticRegression.
            p = LINKS["logit"](ys)
            return p / p.sum(axis=1, keepdims=True)
        if method == "softmax":
            e = np.exp(ys)
            return e / e.sum(axis=1, keepdims=True)
        return ys / ys.sum(axis=1, keepdims=True)  # simplemax


def _where(model) -> str:
    return f" at {model.loc}" if model.loc else ""


def lower(model: RegressionModel, ctx: Context) -> RegressionCore:
    return RegressionCore(model, ctx)
