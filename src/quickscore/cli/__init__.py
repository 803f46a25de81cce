"""The ``quickscore`` command: score CSV/Parquet files with a model, or describe a model.

::

    quickscore score [MODEL INPUT] [-o OUTPUT] [--errors column|raise]
    quickscore inspect [MODEL] [--json]
    quickscore compile MODEL [-o MODEL.qsm]

Without MODEL both commands use the bundled example (an iris decision tree and its data).
Failures print one line, ``quickscore: error: <message>``, on stderr and exit with status 1;
command-line usage errors exit with status 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import click
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import quickscore

if TYPE_CHECKING:
    from importlib.abc import Traversable

    Source = str | Traversable  # a path given by the user, or a bundled resource

__all__ = ["main"]

MISSING_STRINGS = ("", "NA", "N/A", "NaN", "null")
"""CSV cells read as a missing value; every other cell goes to the model as text."""

PARQUET_SUFFIXES = (".parquet", ".pq")
CHUNK_ROWS = 10_000
_EXAMPLES = resources.files("quickscore") / "examples"
EXAMPLE_MODEL = _EXAMPLES / "DecisionTreeIris.pmml"
EXAMPLE_INPUT = _EXAMPLES / "DecisionTreeIris.input.csv"


class CommandError(Exception):
    """A failure reported as one line on stderr (exit status 1)."""


# Failures of the user's files or data, as opposed to bugs: reported in one line, never a traceback.
_REPORTED = (CommandError, quickscore.QuickscoreError, OSError, pa.ArrowException)
# What pandas and pyarrow raise for an unreadable CSV or Parquet file (ParserError, EmptyDataError,
# ArrowInvalid and UnicodeDecodeError are ValueErrors).
_UNREADABLE = (ValueError, pa.ArrowException)


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; OSErrors name their file."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


class _Group(click.Group):
    """A command group that turns the user's file and data failures into one-line errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # the reader of stdout went away: main() stops quietly
        except _REPORTED as exc:
            click.echo(f"quickscore: error: {_one_line(exc)}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(quickscore.__version__, prog_name="quickscore")
def cli() -> None:
    """Score PMML models exactly and fast, without a JVM."""


# --------------------------------------------------------------------------- score


@cli.command()
@click.argument("model", required=False)
@click.argument("input", required=False)
@click.option("-o", "--output", metavar="PATH",
              help="Write here instead of stdout: Parquet if PATH ends in .parquet or .pq, else CSV.")
@click.option("--errors", type=click.Choice(["column", "raise"]), default="column", show_default=True,
              help="'column': a record that cannot be scored gets its message in the _error column; "
                   "'raise': stop at the first such record.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=CHUNK_ROWS, show_default=True,
              help="Records scored per batch.")
def score(model: str | None, input: str | None, output: str | None, errors: str, chunk_size: int) -> None:
    """Score the records of INPUT (CSV or Parquet; - is CSV on stdin) with MODEL.

    Writes the model's outputs (the target, then the output fields) as CSV to stdout, or to
    --output. CSV cells are read as text, so the model's DataDictionary decides their types;
    empty cells and NA, N/A, NaN, null are missing values. Without MODEL and INPUT, scores the
    bundled example model on its bundled data.
    """
    if model is None:
        model_source, input_source = EXAMPLE_MODEL, EXAMPLE_INPUT
    elif input is None:
        raise click.UsageError("Missing argument 'INPUT' (a CSV or Parquet file, or - for CSV on stdin).")
    else:
        model_source, input_source = model, input
    scorer = _load(model_source)
    opened = contextlib.nullcontext("-") if input_source == "-" else resources.as_file(_path(input_source))
    with opened as path:
        total, chunks = _read(path, chunk_size)
        with _progress(total) as bar:
            results = (_predict(scorer, chunk, errors, bar) for chunk in chunks)
            if output is None:
                _write_csv(results, sys.stdout)
            else:
                _write_file(results, Path(output))


def _load(source: Source) -> quickscore.Model:
    """Load a model, naming the file in any error."""
    try:
        with resources.as_file(_path(source)) as path:
            return quickscore.load(path)
    except quickscore.ModelError as exc:
        raise CommandError(f"cannot load model {source}: {_one_line(exc)}") from exc


def _path(source: Source):
    """A user's path as a Path; a bundled resource as it is."""
    return Path(source) if isinstance(source, str) else source


def _predict(model: quickscore.Model, chunk: pd.DataFrame, errors: str, bar) -> pd.DataFrame:
    result = model.predict(chunk, errors=errors)
    bar.update(len(chunk))
    return result


def _read(path: str | Path, chunk_size: int) -> tuple[int | None, Iterator[pd.DataFrame]]:
    """The number of input records (None if unknown before reading them all) and their chunks.

    ``path`` is a file (Parquet if its name ends in .parquet or .pq, else CSV) or - for CSV on stdin.
    Parquet keeps its column types; CSV cells are text, with MISSING_STRINGS as None.
    An input with a header but no records gives one empty chunk, so the output gets its header.
    """
    name = "standard input" if path == "-" else str(path)
    try:
        if str(path).lower().endswith(PARQUET_SUFFIXES):
            total, chunks = _parquet_chunks(pq.ParquetFile(path), chunk_size)
        else:
            source = sys.stdin if path == "-" else path
            total, chunks = None, _csv_chunks(pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=chunk_size))
    except _UNREADABLE as exc:
        raise CommandError(f"cannot read {name}: {_one_line(exc)}") from exc
    return total, _reading(chunks, name)


def _parquet_chunks(parquet: pq.ParquetFile, chunk_size: int) -> tuple[int, Iterator[pd.DataFrame]]:
    rows = parquet.metadata.num_rows

    def chunks() -> Iterator[pd.DataFrame]:
        with parquet:
            if rows == 0:
                yield parquet.schema_arrow.empty_table().to_pandas()
            for batch in parquet.iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()

    return rows, chunks()


def _csv_chunks(reader) -> Iterator[pd.DataFrame]:
    with reader:
        for chunk in reader:
            chunk = chunk.astype(object)
            yield chunk.where(~chunk.isin(MISSING_STRINGS), None)


def _reading(chunks: Iterator[pd.DataFrame], name: str) -> Iterator[pd.DataFrame]:
    """``chunks``, naming the input in the error when one cannot be read."""
    try:
        yield from chunks
    except _UNREADABLE as exc:
        raise CommandError(f"cannot read {name}: {_one_line(exc)}") from exc


def _progress(total: int | None):
    """A tqdm progress bar on stderr, shown only when stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit=" records", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def _write_csv(results: Iterator[pd.DataFrame], handle) -> None:
    """Stream the result chunks as one CSV (header once, floats in full precision, missing as empty)."""
    header = True
    for result in results:
        result.to_csv(handle, index=False, header=header, lineterminator="\n")
        header = False


def _write_file(results: Iterator[pd.DataFrame], path: Path) -> None:
    """Write the results to ``path`` (Parquet or CSV by its suffix), replacing it only on success."""
    partial = path.with_name(path.name + ".part")
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            tables = [pa.Table.from_pandas(result, preserve_index=False) for result in results]
            # A chunk whose records all failed has null-typed columns: let the others decide the type.
            pq.write_table(pa.concat_tables(tables, promote_options="permissive"), partial)
        else:
            with open(partial, "w", newline="", encoding="utf-8") as handle:
                _write_csv(results, handle)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------- inspect


@cli.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def inspect(model: str | None, as_json: bool) -> None:
    """Describe MODEL (default: the bundled example): type, producer, fields and size."""
    loaded = _load(EXAMPLE_MODEL if model is None else model)
    description = describe(loaded)
    if as_json:
        click.echo(json.dumps(description, indent=2, default=str))
    else:
        click.echo(_format(description))


def describe(model: quickscore.Model) -> dict[str, Any]:
    """A JSON-ready description of a model: its info, its fields and its output columns."""
    return {
        "info": dict(model.info),
        "inputs": [_field(f) for f in model.schema.inputs],
        "targets": [_field(f) for f in model.schema.targets],
        "outputs": [_field(f) for f in model.schema.outputs],
        "output_columns": list(model.output_names),
    }


def _field(field: Any) -> dict[str, Any]:
    integer = field.data_type == "integer"
    return {
        "name": field.name,
        "data_type": field.data_type,
        "op_type": field.op_type,
        "values": [int(v) if integer and isinstance(v, float) and v.is_integer() else v for v in field.values],
        "intervals": [_interval(i) for i in field.intervals],
    }


def _interval(interval: Any) -> str:
    """PMML Interval as text: closedOpen with margins 0 and 1 is [0, 1)."""
    closure = interval.closure
    left = "-inf" if interval.left is None else _number(interval.left)
    right = "inf" if interval.right is None else _number(interval.right)
    return f"{'(' if closure.startswith('open') else '['}{left}, {right}{')' if closure.endswith('Open') else ']'}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_INFO_LABELS = {
    "model_type": "Model type",
    "function_name": "Function",
    "algorithm_name": "Algorithm",
    "model_name": "Model name",
    "producer": "Producer",
    "format": "Format",
    "version": "Version",
    "pmml_version": "PMML version",
    "description": "Description",
    "n_trees": "Trees",
    "n_nodes": "Tree nodes",
    "source": "Source",
}
_MAX_VALUES = 12


def _format(description: dict[str, Any]) -> str:
    """The description as aligned text."""
    info = {k: v for k, v in description["info"].items() if v not in (None, "")}
    if "format" in info and "version" in info:  # "pmml" and "4.4" read best as "PMML 4.4"
        name = str(info["format"])
        info["format"] = f"{'PMML' if name.lower() == 'pmml' else name} {info.pop('version')}"
    labels = {key: _INFO_LABELS.get(key, key.replace("_", " ").capitalize()) for key in info}
    order = [k for k in _INFO_LABELS if k in info] + [k for k in info if k not in _INFO_LABELS]
    width = max((len(label) for label in labels.values()), default=0) + 1
    lines = [f"{labels[k] + ':':<{width}} {info[k]}" for k in order]
    for title, key in (("Inputs", "inputs"), ("Targets", "targets"), ("Outputs", "outputs")):
        fields = description[key]
        lines.append(f"\n{title} ({len(fields)}):" if fields else f"\n{title}: none")
        name_width = max((len(f["name"]) for f in fields), default=0)
        for f in fields:
            line = f"  {f['name']:<{name_width}}  {f['data_type']:<8} {f['op_type']}"
            if f["values"]:
                shown = ", ".join(str(v) for v in f["values"][:_MAX_VALUES])
                more = f", ... ({len(f['values'])} values)" if len(f["values"]) > _MAX_VALUES else ""
                line += f"  values: {shown}{more}"
            if f["intervals"]:
                line += "  intervals: " + " ".join(f["intervals"])
            lines.append(line.rstrip())
    lines.append("\nOutput columns: " + ", ".join(description["output_columns"]))
    return "\n".join(lines)


from quickscore.serve._cli import serve as _serve  # noqa: E402  (imports without the serve extra)

cli.add_command(_serve)

from quickscore.cli._compile import compile_model as _compile  # noqa: E402

cli.add_command(_compile)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Run the ``quickscore`` command (the console script)."""
    try:
        cli.main(args=argv, prog_name="quickscore")
    except BrokenPipeError:
        # The reader of stdout went away (quickscore score | head): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
