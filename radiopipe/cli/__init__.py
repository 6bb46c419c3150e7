"""The ``radiopipe`` command line: one thin Typer command per stage (parse, call, print)."""

from __future__ import annotations

import importlib
import logging
import sys

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from radiopipe.errors import RadiopipeError
from radiopipe.progress import console

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
    "export",
    "run",
]

USER_ERROR_EXIT = 2


class _Group(TyperGroup):
    """Root group: a RadiopipeError prints one clear message and exits with status 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RadiopipeError as err:
            console.print(
                f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
            )
            ctx.exit(USER_ERROR_EXIT)


app = typer.Typer(
    name="radiopipe",
    cls=_Group,
    help="Multi-centre MRI radiomics: segment, extract, harmonise, model, validate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
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
    app()
