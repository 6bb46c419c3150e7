"""The ``radiopipe`` command line: one thin Typer command per stage (parse, call, print).

Exit codes: 0 done; 1 the command found problems (``validate``, failed cases without
``--allow-failures``); 2 a usage or input error (one line naming the flag, file or patient);
3 an unexpected error (one line, the traceback in the log file it names).
Results go to stdout; logs and progress to stderr.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from radiopipe import __version__
from radiopipe.cli.group import UNEXPECTED_EXIT, USER_ERROR_EXIT, Group

# Each module registers its commands on the app; heavy imports stay inside the commands.
COMMAND_MODULES = [
    "cohort",
    "model",
    "synth",
    "preprocess",
    "deep",
    "evaluate",
    "features",
    "segment",
    "report",
    "run",
    "design",
]

__all__ = ["UNEXPECTED_EXIT", "USER_ERROR_EXIT", "app", "main"]


def _version(value: bool) -> None:
    if value:
        print(f"radiopipe {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="radiopipe",
    cls=Group,
    help="Multi-centre MRI radiomics: segment, extract, harmonise, model, validate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log debug messages (also accepted after the command)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Third-party chatter that says nothing a user can act on.
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)


for _module in COMMAND_MODULES:
    importlib.import_module(f"radiopipe.cli.{_module}").register(app)


def main() -> None:
    """Console entry point."""
    app(prog_name="radiopipe")
