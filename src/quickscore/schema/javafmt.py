"""Java's text conventions that PMML's string functions inherit.

PMML says of its built-in functions: "The definitions of functions in PMML generally follow the
design of functions and operators in XQuery. Further ideas are taken from MathML, XPath, Java Date
formats." formatNumber takes "a format string as used in C's printf / Java's String.format", and
the reference implementation (JPMML-Evaluator) runs Java's ``String.format`` on it, numbers become
text the way Java's ``Double.toString`` writes them, and formatDatetime's ``%Y``-style patterns are
Java's ``%tY`` date conversions. This module reproduces those conventions, per value:

* :func:`number_text` - ``Double.toString`` / ``Float.toString`` / ``Integer.toString``;
* :func:`format_number` - ``String.format(pattern, number)`` for the conversions d o x X e E f g G
  s S % n with the flags ``-#+ 0,(``, width and precision. Java is stricter than C: "if a conversion
  is incompatible with a flag, an exception will be thrown" (java.util.Formatter), e.g. ``%d`` of a
  double; such a pattern raises :class:`FormatError`;
* :func:`format_datetime` - the date/time conversions of ``String.format`` (``%tY`` ...), which
  formatDatetime's patterns are translated to ("Every %[conversion] has to become %1$t[conversion]").
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np


class FormatError(ValueError):
    """The pattern cannot format the value (Java's IllegalFormatException)."""


# --- numbers as text ----------------------------------------------------------------------------


def _scientific(digits: str, exponent: int, negative: bool) -> str:
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return ("-" if negative else "") + f"{mantissa}E{exponent}"


def _shortest(x: float, single: bool) -> tuple[str, int]:
    """The shortest decimal digits of x (no leading/trailing zeros) and the exponent of the first."""
    text = np.format_float_scientific(np.float32(x) if single else np.float64(x), unique=True, trim="-")
    mantissa, _, exp = text.partition("e")
    digits = mantissa.lstrip("-").replace(".", "")
    return digits.rstrip("0") or "0", int(exp)


def double_text(x: float, single: bool = False) -> str:
    """Java's Double.toString (Float.toString when ``single``): "1.0", "0.001", "1.0E7", "1.0E-4",
    "NaN", "Infinity"."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    digits, exponent = _shortest(abs(x), single)
    negative = x < 0
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1 :] or "0"
        else:
            whole, frac = "0", "0" * (-exponent - 1) + digits
        return ("-" if negative else "") + whole + "." + frac
    return _scientific(digits, exponent, negative)


def number_text(x: float, data_type: str) -> str:
    """A number of a PMML dataType as Java writes it (integers without a fraction)."""
    if data_type == "integer" and math.isfinite(x):
        return str(int(x))
    return double_text(x, single=data_type == "float")


# --- String.format -----------------------------------------------------------------------------

_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
_INTEGRAL = frozenset("doxX")
_FLOATING = frozenset("eEfgGaA")


def _group(digits: str) -> str:
    head, _, tail = digits.partition(".")
    out = []
    while len(head) > 3:
        out.insert(0, head[-3:])
        head = head[:-3]
    out.insert(0, head)
    return ",".join(out) + ("." + tail if tail else "")


def _decimal(x: float, single: bool) -> Decimal:
    # Java's Formatter rounds the value's Double.toString digits HALF_UP (not the binary value)
    return Decimal(double_text(x, single).replace("E", "e"))


def _fixed(x: float, precision: int, single: bool) -> str:
    d = _decimal(abs(x), single).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
    return f"{d:f}"


def _sci(x: float, precision: int, single: bool, upper: bool) -> str:
    d = _decimal(abs(x), single)
    if d == 0:
        text = "0" + ("." + "0" * precision if precision else "") + "e+00"
    else:
        exp = d.adjusted()
        m = (d.scaleb(-exp)).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
        if m >= 10:
            exp += 1
            m = (d.scaleb(-exp)).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
        text = f"{m:f}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return text.upper() if upper else text


def _general(x: float, precision: int, single: bool, upper: bool) -> str:
    # java.util.Formatter 'g': "After rounding for the precision, the formatting of the resulting
    # magnitude m depends on its value. If m is greater than or equal to 10^-4 but less than
    # 10^precision then it is represented in decimal format. Otherwise ... scientific notation.
    # The total number of significant digits in m is equal to the precision."
    precision = precision or 1
    d = _decimal(abs(x), single)
    if d == 0:
        return _fixed(0.0, precision - 1, single)
    exp = d.adjusted()
    rounded = d.scaleb(-exp).quantize(Decimal(1).scaleb(-(precision - 1)), rounding=ROUND_HALF_UP).scaleb(exp)
    if Decimal("1e-4") <= rounded < Decimal(10) ** precision:
        return _fixed(abs(x), max(precision - 1 - rounded.adjusted(), 0), single)
    return _sci(x, precision - 1, single, upper)


def _pad(body: str, negative: bool, flags: str, width: int | None, numeric: bool = True) -> str:
    if numeric:
        if "," in flags:
            body = _group(body)
        if negative:
            body = f"({body})" if "(" in flags else "-" + body
        elif "+" in flags:
            body = "+" + body
        elif " " in flags:
            body = " " + body
    if width is not None and len(body) < width:
        if "-" in flags:
            body = body.ljust(width)
        elif "0" in flags and numeric:
            sign = body[0] if body[:1] in "+- (" and body[:1] != "" else ""
            rest = body[len(sign):]
            body = sign + rest.rjust(width - len(sign), "0")
        else:
            body = body.rjust(width)
    return body


def format_number(pattern: str, x: float, data_type: str) -> str:
    """``String.format(pattern, x)`` with x a Java Integer (dataType integer), Float or Double."""
    with localcontext() as ctx:
        ctx.prec = 800  # every digit of a double (1e308 written out in full)
        ctx.Emax, ctx.Emin = 100_000, -100_000
        return _format_number(pattern, x, data_type)


def _format_number(pattern: str, x: float, data_type: str) -> str:
    integral = data_type == "integer"
    single = data_type == "float"
    out, pos = [], 0
    for m in _SPEC.finditer(pattern):
        out.append(pattern[pos : m.start()])
        pos = m.end()
        index, flags, width_s, precision_s, conv = m.groups()
        width = int(width_s) if width_s else None
        precision = int(precision_s) if precision_s else None
        if conv == "%":
            out.append(_pad("%", False, flags, width, numeric=False))
            continue
        if conv == "n":
            out.append("\n")
            continue
        if index not in (None, "1") or "<" in flags:
            raise FormatError(f"argument index in '{m.group(0)}'")
        lower = conv.lower()
        if lower == "s":
            text = number_text(x, data_type)
            if precision is not None:
                text = text[:precision]
            text = _pad(text, False, flags, width, numeric=False)
            out.append(text.upper() if conv == "S" else text)
            continue
        if conv in _INTEGRAL:
            if not integral or precision is not None:
                raise FormatError(f"'{m.group(0)}' cannot format a {data_type} value")
            v = int(x)
            if conv == "d":
                out.append(_pad(str(abs(v)), v < 0, flags, width))
            else:  # o x X: a Java int's two's complement bits; '#' adds the radix prefix
                bits = v & 0xFFFFFFFF
                body = format(bits, "o" if conv == "o" else "x")
                if "#" in flags:
                    body = ("0" if conv == "o" else "0x") + body
                body = _pad(body, False, flags.replace("+", "").replace(" ", "").replace(",", ""), width)
                out.append(body.upper() if conv == "X" else body)
            continue
        if conv in _FLOATING and lower != "a":
            if integral:
                raise FormatError(f"'{m.group(0)}' cannot format an integer value")
            if math.isnan(x) or math.isinf(x):
                body = "NaN" if math.isnan(x) else "Infinity"
                body = _pad(body, x < 0, flags.replace("0", "").replace(",", ""), width)
                out.append(body.upper() if conv.isupper() else body)
                continue
            p = 6 if precision is None else precision
            if lower == "f":
                body = _fixed(x, p, single)
            elif lower == "e":
                body = _sci(x, p, single, conv == "E")
            else:
                body = _general(x, p, single, conv == "G")
            negative = math.copysign(1.0, x) < 0
            if lower != "f" and "," in flags and lower == "e":
                raise FormatError(f"flag ',' with '{m.group(0)}'")
            out.append(_pad(body, negative, flags, width))
            continue
        raise FormatError(f"unsupported conversion '{m.group(0)}'")
    rest = pattern[pos:]
    if "%" in rest:
        raise FormatError(f"unknown format '{rest[rest.index('%'):]}'")
    out.append(rest)
    return "".join(out)


# --- dates ---------------------------------------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _hour12(t: _dt.datetime) -> int:
    return (t.hour % 12) or 12


# java.util.Formatter's date/time conversions (Locale.US, no time zone).
_DATE_CONVERSIONS = {
    "Y": lambda t: f"{t.year:04d}",
    "y": lambda t: f"{t.year % 100:02d}",
    "C": lambda t: f"{t.year // 100:02d}",
    "m": lambda t: f"{t.month:02d}",
    "d": lambda t: f"{t.day:02d}",
    "e": lambda t: str(t.day),
    "j": lambda t: f"{t.timetuple().tm_yday:03d}",
    "B": lambda t: _MONTHS[t.month - 1],
    "b": lambda t: _MONTHS[t.month - 1][:3],
    "h": lambda t: _MONTHS[t.month - 1][:3],
    "A": lambda t: _DAYS[t.weekday()],
    "a": lambda t: _DAYS[t.weekday()][:3],
    "H": lambda t: f"{t.hour:02d}",
    "I": lambda t: f"{_hour12(t):02d}",
    "k": lambda t: str(t.hour),
    "l": lambda t: str(_hour12(t)),
    "M": lambda t: f"{t.minute:02d}",
    "S": lambda t: f"{t.second:02d}",
    "L": lambda t: f"{t.microsecond // 1000:03d}",
    "N": lambda t: f"{t.microsecond * 1000:09d}",
    "p": lambda t: "am" if t.hour < 12 else "pm",
    "R": lambda t: f"{t.hour:02d}:{t.minute:02d}",
    "T": lambda t: f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}",
    "r": lambda t: f"{_hour12(t):02d}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}",
    "D": lambda t: f"{t.month:02d}/{t.day:02d}/{t.year % 100:02d}",
    "F": lambda t: f"{t.year:04d}-{t.month:02d}-{t.day:02d}",
}

_DATE_SPEC = re.compile(r"%([-#+ 0,(]*)(\d+)?([a-zA-Z%])")


def format_datetime(pattern: str, value: _dt.datetime) -> str:
    """formatDatetime(value, pattern): each ``%X`` is Java's ``%1$tX`` (``%%`` stays a percent sign).

    An uppercase-variant ``%tX`` in Java upper-cases the text; PMML patterns use the plain letters.
    """
    out, pos = [], 0
    for m in _DATE_SPEC.finditer(pattern):
        out.append(pattern[pos : m.start()])
        pos = m.end()
        flags, width_s, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        fn = _DATE_CONVERSIONS.get(conv)
        if fn is None:
            raise FormatError(f"unsupported date/time conversion '%{conv}'")
        text = fn(value)
        if width_s:
            text = text.ljust(int(width_s)) if "-" in flags else text.rjust(int(width_s))
        out.append(text)
    rest = pattern[pos:]
    if "%" in rest:
        raise FormatError(f"unknown format '{rest[rest.index('%'):]}'")
    out.append(rest)
    return "".join(out)
