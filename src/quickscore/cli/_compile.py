"""The ``quickscore compile`` command: a model file to a compiled ``.qsm`` file (see ``io.qsm``)."""

from __future__ import annotations

import os
import time

import click


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="PATH",
              help="The compiled file (default: MODEL with its suffix replaced by .qsm).")
def compile_model(model: str, output: str | None) -> None:
    """Compile MODEL (a PMML or native model file) into a .qsm file that loads in milliseconds.

    The .qsm file holds the model read and lowered once (the IR and its arrays, no code),
    with a format version and checksums; `quickscore.load("MODEL.qsm")` and every command
    that takes a model read it. Compile again after upgrading quickscore: a file written by
    another version still loads, but lowers its trees again at load.
    """
    from quickscore.io.qsm import write_qsm

    if output is None:
        output = os.path.splitext(model)[0] + ".qsm"
    if os.path.abspath(output) == os.path.abspath(model):
        raise click.UsageError(f"the output {output!r} would overwrite the model file")
    started = time.perf_counter()
    header = write_qsm(model, output)
    size = os.path.getsize(output)
    click.echo(
        f"{output}: {size / 1e6:.1f} MB, {len(header['arrays'])} arrays, compiled in "
        f"{time.perf_counter() - started:.1f} s (source sha256 {header['source']['sha256'][:16]}...)",
        err=True,
    )
