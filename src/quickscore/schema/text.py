"""TextIndex: term frequencies in free text, as the PMML "TextIndex" section defines them.

Per record: the text is normalized (each TextIndexNormalization's table rows replace their
``inField`` - a literal string, or a regular expression where the ``regexField`` cell is
"true" - by their ``outField``; "If the recursive flag is set to true, then the normalization
table is reapplied until none of its rows causes a change to the input text"), then split into
tokens (split by ``wordSeparatorCharacterRE``, trimmed of punctuation, or - the JPMML extension ``x-wordRE`` - as the matches
of a word pattern). The term is tokenized the same way, without normalization. The count is the
number of positions where the term's tokens match the text's (case-insensitively unless
``isCaseSensitive``, within ``maxLevenshteinDistance`` edits over the whole term; ``bestHits``
counts only the matches of the smallest distance). ``localTermWeights`` turns the count into
the result: termFrequency (the count), binary (0 or 1), logarithmic (log10(1 + count)),
augmentedNormalizedTermFrequency (0.5 * (binary + count / the count of the text's most frequent
token), as KIE's PMML engine reads it; JPMML-Evaluator refuses it). ``tokenize="false"`` is refused.

Patterns are PMML's Perl/Java-style regular expressions; the constructs Python reads alike are
used as they are, replacement strings use Java's ``$n`` group syntax.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Callable

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import TextIndex, TextIndexNormalization
from quickscore.ir.types import DataType, OpType
from quickscore.runtime.frame import Frame
from quickscore.schema.values import Column, convert_column

_WEIGHTS = ("termFrequency", "binary", "logarithmic", "augmentedNormalizedTermFrequency")
_CACHE_LIMIT = 100_000  # distinct texts whose tokens are kept between batches


def _where(expr: TextIndex) -> str:
    return f" at {expr.loc}" if expr.loc else ""


# java.util.regex.Pattern's POSIX and java.lang.Character classes (US-ASCII unless noted), as the
# contents of a Python character class.
_JAVA_CLASSES = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7f", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0b\\f\\r",
    "javaLowerCase": "a-z", "javaUpperCase": "A-Z", "javaWhitespace": " \\t\\n\\x0b\\f\\r\\x1c-\\x1f",
    "L": "^\\W\\d_", "IsAlphabetic": "^\\W\\d_", "IsLetter": "^\\W\\d_", "N": "\\d", "IsDigit": "\\d",
}
_JAVA_SIMPLE = {
    "z": "\\Z",  # Java's \z (the end of input) is Python's \Z
    "Z": "(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)",  # before a final line terminator
    "h": "[ \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]",
    "H": "[^ \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]",
    "v": "[\\n\\x0b\\f\\r\\x85\\u2028\\u2029]",
    "V": "[^\\n\\x0b\\f\\r\\x85\\u2028\\u2029]",
    "R": "(?:\\r\\n|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])",
    "e": "\\x1b",
}


# Java's predefined classes are US-ASCII by default (java.util.regex.Pattern: "\w A word character:
# [a-zA-Z_0-9]"), while its \b uses Unicode letters and digits; Python's \w, \d, \s are Unicode.
_JAVA_ASCII = {"w": "[a-zA-Z_0-9]", "W": "[^a-zA-Z_0-9]", "d": "[0-9]", "D": "[^0-9]",
               "s": "[ \\t\\n\\x0b\\f\\r]", "S": "[^ \\t\\n\\x0b\\f\\r]"}
_JAVA_ASCII_IN_CLASS = {"w": "a-zA-Z_0-9", "d": "0-9", "s": " \\t\\n\\x0b\\f\\r"}


def java_regex(pattern: str, ascii_classes: bool = False) -> str:
    """Translate a Java (java.util.regex) pattern into Python's ``re`` syntax.

    PMML's regular expressions are Perl/Java style. Python reads most of that syntax alike; this
    rewrites what it reads differently or not at all: ``\\Q...\\E`` quoting, named groups
    ``(?<name>...)`` and ``\\k<name>``, ``\\z`` / ``\\Z``, ``\\h`` ``\\v`` ``\\R`` ``\\e``, and the
    ``\\p{...}`` / ``\\P{...}`` classes, and (``ascii_classes``) ``\\w \\W \\d \\D \\s \\S``, which
    are US-ASCII in Java (its ``\\b`` stays Unicode, as Python's). Character-class intersections
    (``&&``) and nested classes are refused (ValueError).
    """
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append("".join("\\" + c if not c.isalnum() else c for c in literal) if in_class else re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt in "pP" and i + 2 < n:
                if pattern[i + 2] == "{":
                    end = pattern.find("}", i + 3)
                    if end < 0:
                        raise ValueError(f"unclosed \\\\{nxt}{{ in '{pattern}'")
                    name = pattern[i + 3 : end]
                else:
                    name, end = pattern[i + 2], i + 2
                name = name[2:] if name.startswith("Is") and name[2:] in _JAVA_CLASSES else name
                body = _JAVA_CLASSES.get(name)
                if body is None:
                    raise ValueError(f"unsupported character class \\\\{nxt}{{{name}}}")
                negate = nxt == "P"
                if in_class:
                    if negate or body.startswith("^"):
                        raise ValueError(f"negated class \\\\{nxt}{{{name}}} inside [...]")
                    out.append(body)
                else:
                    if body.startswith("^"):
                        negate, body = not negate, body[1:]
                    out.append(("[^" if negate else "[") + body + "]")
                i = end + 1
                continue
            if nxt == "k" and i + 2 < n and pattern[i + 2] == "<":
                end = pattern.index(">", i + 3)
                out.append(f"(?P={pattern[i + 3 : end]})")
                i = end + 1
                continue
            if nxt in _JAVA_SIMPLE and not in_class:
                out.append(_JAVA_SIMPLE[nxt])
                i += 2
                continue
            if ascii_classes and not in_class and nxt in _JAVA_ASCII:
                out.append(_JAVA_ASCII[nxt])
                i += 2
                continue
            if ascii_classes and in_class and nxt in _JAVA_ASCII_IN_CLASS:
                out.append(_JAVA_ASCII_IN_CLASS[nxt])
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[":
                raise ValueError(f"nested character classes are not supported in '{pattern}'")
            if ch == "&" and pattern.startswith("&&", i):
                raise ValueError(f"character class intersections (&&) are not supported in '{pattern}'")
            if ch == "]" and out and out[-1] not in ("[", "[^"):
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is a literal in both dialects
                out.append("\\]")
                i += 1
            continue
        if ch == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def compile_regex(pattern: str, case_sensitive: bool, what: str, ascii: bool = False) -> re.Pattern:
    """Compile a PMML (Java-style) regular expression; UnsupportedMarkup if it cannot be read."""
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        return re.compile(java_regex(pattern, ascii_classes=ascii), flags)
    except (re.error, ValueError, IndexError) as e:
        raise UnsupportedMarkup(f"Regular expression '{pattern}' of {what} is not supported: {e}") from None


def java_replacement(text: str) -> Callable[[re.Match], str]:
    """A re.sub replacement that reads Java's syntax: ``$n`` / ``${name}`` groups, ``\\x`` literal x."""
    parts: list = []  # literal text, group numbers, (group name,)
    i, literal = 0, []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            literal.append(text[i + 1])
            i += 2
            continue
        if ch == "$" and i + 1 < len(text):
            m = re.match(r"\$(\d+)|\$\{(\w+)\}", text[i:])
            if m:
                parts.append("".join(literal))
                literal = []
                parts.append(int(m.group(1)) if m.group(1) else (m.group(2),))  # type: ignore[arg-type]
                i += m.end()
                continue
        literal.append(ch)
        i += 1
    parts.append("".join(literal))
    if len(parts) == 1:
        constant = parts[0]
        return lambda m: constant  # type: ignore[return-value]
    return lambda m: "".join(p if isinstance(p, str) else (m.group(p if isinstance(p, int) else p[0]) or "") for p in parts)


class _Tokenizer:
    def __init__(self, word_re: str | None, separator_re: str, case_sensitive: bool, what: str):
        self.words = compile_regex(word_re, True, what) if word_re is not None else None
        self.separator = None if word_re is not None else compile_regex(separator_re, True, what)

    def __call__(self, text: str) -> tuple[str, ...]:
        if self.words is not None:
            return tuple(self.words.findall(text))
        # Split on the separators; each token loses its leading and trailing punctuation
        # (as JPMML-Evaluator's TextSplitter does), and empty tokens are dropped.
        tokens = (_trim_punctuation(t) for t in self.separator.split(text))  # type: ignore[union-attr]
        return tuple(t for t in tokens if t)


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _trim_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and _is_punctuation(token[start]):
        start += 1
    while end > start and _is_punctuation(token[end - 1]):
        end -= 1
    return token[start:end]


class _Normalization:
    def __init__(self, n: TextIndexNormalization, index: TextIndex):
        case_sensitive = index.is_case_sensitive if n.is_case_sensitive is None else n.is_case_sensitive
        self.recursive = n.recursive
        self.rows: list[tuple[re.Pattern, Callable[[re.Match], str]]] = []
        for row in n.table.dict_rows():
            if n.in_field not in row or n.out_field not in row:
                raise InvalidMarkup(f"TextIndexNormalization row without a '{n.in_field}' or '{n.out_field}' cell{_where(index)}")
            is_regex = row.get(n.regex_field, "").strip().lower() == "true"
            pattern = row[n.in_field] if is_regex else re.escape(row[n.in_field])
            self.rows.append((compile_regex(pattern, case_sensitive, "TextIndexNormalization"), java_replacement(row[n.out_field])))

    def __call__(self, text: str) -> str:
        while True:
            out = text
            for pattern, replacement in self.rows:
                out = pattern.sub(replacement, out)
            if not self.recursive or out == text:
                return out
            text = out


def _levenshtein(a: str, b: str, limit: int) -> int:
    """Edit distance of a and b, or -1 when it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return -1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return -1
        previous = current
    return previous[-1] if previous[-1] <= limit else -1


class TextIndexEvaluator:
    def __init__(self, expr: TextIndex, term):
        if expr.local_term_weights not in _WEIGHTS:
            raise UnsupportedMarkup(f"localTermWeights '{expr.local_term_weights}' of TextIndex is not supported{_where(expr)}")
        if not expr.tokenize:
            raise UnsupportedMarkup(f"TextIndex with tokenize='false' is not supported{_where(expr)}")
        if expr.count_hits not in ("allHits", "bestHits"):
            raise InvalidMarkup(f"Invalid countHits '{expr.count_hits}' of TextIndex{_where(expr)}")
        self.expr = expr
        self.term = term
        self.normalizations = [_Normalization(n, expr) for n in expr.normalizations]
        self.tokenize = _Tokenizer(expr.word_re, expr.word_separator_character_re, expr.is_case_sensitive, "TextIndex")
        self.case_sensitive = expr.is_case_sensitive
        self.max_distance = expr.max_levenshtein_distance
        self.best_hits = expr.count_hits == "bestHits"
        self.max_frequency = 1 if expr.local_term_weights == "binary" else math.inf
        self._text_tokens: dict[str, tuple[str, ...]] = {}
        self._term_tokens: dict[str, tuple[str, ...]] = {}

    def text_tokens(self, text: str) -> tuple[str, ...]:
        tokens = self._text_tokens.get(text)
        if tokens is None:
            if len(self._text_tokens) >= _CACHE_LIMIT:
                self._text_tokens.clear()
            normalized = text
            for n in self.normalizations:
                normalized = n(normalized)
            tokens = self.tokenize(normalized)
            self._text_tokens[text] = tokens
        return tokens

    def term_tokens(self, term: str) -> tuple[str, ...]:
        tokens = self._term_tokens.get(term)
        if tokens is None:
            tokens = self._term_tokens[term] = self.tokenize(term)
        return tokens

    def _distance(self, a: str, b: str, limit: int) -> int:
        if limit == 0:
            same = a == b if self.case_sensitive else a.lower() == b.lower()
            return 0 if same else -1
        if not self.case_sensitive:
            a, b = a.lower(), b.lower()
        return _levenshtein(a, b, limit)

    def frequency(self, text: tuple[str, ...], term: tuple[str, ...]) -> int:
        if not text or not term:
            return 0
        count, best = 0, math.inf
        for i in range(len(text) - len(term) + 1):
            distance = 0
            for j, token in enumerate(term):
                d = self._distance(text[i + j], token, self.max_distance - distance)
                if d < 0:
                    break
                distance += d
            else:
                if self.best_hits:
                    if distance < best:
                        count, best = 1, distance
                    elif distance == best:
                        count += 1
                else:
                    count += 1
                if count >= self.max_frequency and (not self.best_hits or best == 0):
                    return int(min(count, self.max_frequency))
        return int(min(count, self.max_frequency))

    def __call__(self, frame: Frame) -> Column:
        text_col = convert_column(frame.get(self.expr.text_field), DataType.STRING).values
        term_col = convert_column(self.term(frame), DataType.STRING).values
        out = np.full(frame.n, np.nan)
        for i, (text, term) in enumerate(zip(text_col, term_col)):
            if text is None or term is None:
                continue
            out[i] = self.frequency(self.text_tokens(text), self.term_tokens(term))
        weights = self.expr.local_term_weights
        if weights == "logarithmic":
            out = np.log10(1.0 + out)
            return Column(out, DataType.DOUBLE, OpType.CONTINUOUS)
        if weights == "augmentedNormalizedTermFrequency":
            # 0.5 * (binary + termFrequency / the frequency of the text's most frequent term)
            top = np.array([np.nan if t is None else self.max_frequency_of(t) for t in text_col], dtype=np.float64)
            with np.errstate(all="ignore"):
                out = np.where(top > 0, 0.5 * ((out > 0) + out / np.where(top > 0, top, 1.0)), np.where(np.isnan(out), np.nan, 0.0))
            return Column(out, DataType.DOUBLE, OpType.CONTINUOUS)
        return Column(out, DataType.INTEGER, OpType.CONTINUOUS)

    def max_frequency_of(self, text: str) -> int:
        """How often the text's most frequent token occurs (tokens compared as the term is)."""
        from collections import Counter

        tokens = self.text_tokens(text)
        if not tokens:
            return 0
        return max(Counter(tokens if self.case_sensitive else (t.lower() for t in tokens)).values())
