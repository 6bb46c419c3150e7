"""The command group behind ``radiopipe``: old flag spellings, ``-v`` anywhere, exit codes."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer import _click as click  # typer's own click (0.2x vendors it)
from typer.core import TyperGroup
from typer.exceptions import TyperException

from radiopipe.errors import RadiopipeError
from radiopipe.progress import console

results = Console()  # what a command found (tables, verdicts) goes to stdout; logs to stderr

OK, PROBLEMS_EXIT, USER_ERROR_EXIT, UNEXPECTED_EXIT = 0, 1, 2, 3

# Old spellings of flags, kept working but hidden from --help: {command path: {old: new}}.
# "*" applies to every command that has the new flag.
ALIASES: dict[str, dict[str, str]] = {
    "*": {"--jobs": "--workers", "--n-jobs": "--workers"},
    "extract": {"--config": "--params"},
    "robustness": {"--config": "--params"},
    "deep merge": {"--into": "--run"},
}
VERBOSE_FLAGS = ("-v", "--verbose")


def _rewrite(path: str, command: click.Command, args: list[str]) -> list[str]:
    """Replace old flag spellings by the current ones the command knows."""
    known = {opt for p in command.params for opt in getattr(p, "opts", [])}
    table = {**ALIASES["*"], **ALIASES.get(path, {})}
    table = {old: new for old, new in table.items() if new in known and old not in known}
    out = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        name, eq, value = arg.partition("=")
        out.append(table[name] + eq + value if name in table else arg)
    return out


class Group(TyperGroup):
    """A group that maps old flag spellings, accepts ``-v`` after the command, and turns
    errors into one line and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_verbose(args)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not isinstance(command, TyperGroup):
            path = " ".join([*ctx.command_path.split()[1:], name or ""]).strip()
            rest = _rewrite(path, command, rest)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> object:
        if ctx.parent is not None:  # a sub-group: the root reports errors
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except RadiopipeError as err:
            _error(str(err))
            ctx.exit(USER_ERROR_EXIT)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.exceptions.UsageError as err:  # a flag's value: one line, exit 2
            where = err.ctx.command_path if err.ctx is not None else "radiopipe"
            _error(f"{err.format_message()} (see '{where} --help')")
            ctx.exit(USER_ERROR_EXIT)
        except (typer.Exit, typer.Abort, TyperException):  # exits and usage errors
            raise
        except BrokenPipeError:  # the output went to a pager or `head` that closed early
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except KeyboardInterrupt:
            _error("interrupted")
            ctx.exit(130)
        except Exception as err:  # the one place that reports unexpected errors
            log_file = _crash_log(err)
            _error(
                f"unexpected {type(err).__name__}: {err} (a bug or an unhandled input; "
                f"traceback in {log_file})"
            )
            ctx.exit(UNEXPECTED_EXIT)


def _error(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _crash_log(err: BaseException) -> Path:
    """Write the traceback to a file (and to any run log attached); return the file."""
    logging.getLogger("radiopipe").error("unexpected error", exc_info=err)
    with tempfile.NamedTemporaryFile(
        "w", prefix="radiopipe-error-", suffix=".log", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(" ".join(sys.argv) + "\n\n")
        handle.write("".join(traceback.format_exception(err)))
    return Path(handle.name)


def hoist_verbose(args: list[str]) -> list[str]:
    """``radiopipe run x.yaml -v`` means ``radiopipe -v run x.yaml``."""
    cut = args.index("--") if "--" in args else len(args)
    head, tail = args[:cut], args[cut:]
    flags = [a for a in head if a in VERBOSE_FLAGS]
    return flags[:1] + [a for a in head if a not in VERBOSE_FLAGS] + tail
