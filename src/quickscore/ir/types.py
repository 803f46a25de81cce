"""Basic types of the IR: data types, operational types, source locations, intervals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class DataType(str, Enum):
    """PMML dataType. The value is the PMML spelling."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    TIME = "time"
    DATE_TIME = "dateTime"
    DATE_DAYS_SINCE_0 = "dateDaysSince[0]"
    DATE_DAYS_SINCE_1960 = "dateDaysSince[1960]"
    DATE_DAYS_SINCE_1970 = "dateDaysSince[1970]"
    DATE_DAYS_SINCE_1980 = "dateDaysSince[1980]"
    TIME_SECONDS = "timeSeconds"
    DATE_TIME_SECONDS_SINCE_0 = "dateTimeSecondsSince[0]"
    DATE_TIME_SECONDS_SINCE_1960 = "dateTimeSecondsSince[1960]"
    DATE_TIME_SECONDS_SINCE_1970 = "dateTimeSecondsSince[1970]"
    DATE_TIME_SECONDS_SINCE_1980 = "dateTimeSecondsSince[1980]"

    @property
    def is_numeric(self) -> bool:
        """Stored as float64 at run time (NaN = missing)."""
        return self not in (DataType.STRING, DataType.DATE, DataType.TIME, DataType.DATE_TIME)

    @property
    def is_temporal_object(self) -> bool:
        """Stored as Python date/time/datetime objects at run time (None = missing)."""
        return self in (DataType.DATE, DataType.TIME, DataType.DATE_TIME)


class OpType(str, Enum):
    """PMML optype."""

    CATEGORICAL = "categorical"
    ORDINAL = "ordinal"
    CONTINUOUS = "continuous"


@dataclass(frozen=True)
class Loc:
    """Where an IR node came from: an element path (``PMML/TreeModel/Node[3]``) and a line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path} (line {self.line})" if self.line else self.path


@dataclass(frozen=True)
class Interval:
    """A PMML Interval. ``closure`` is one of openOpen, openClosed, closedOpen, closedClosed.

    A missing margin is None (-inf for left, +inf for right).
    """

    closure: str
    left: float | None = None
    right: float | None = None

    def contains(self, x: float) -> bool:
        if self.left is not None:
            if x < self.left or (x == self.left and self.closure.startswith("open")):
                return False
        if self.right is not None:
            if x > self.right or (x == self.right and self.closure.endswith("Open")):
                return False
        return True
