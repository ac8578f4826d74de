"""The Typer application every command registers on, and the one place errors become exit codes.

Exit codes (DESIGN.md): 0 ok; 1 a gate failed; 2 bad input or usage (one
line on stderr, no traceback unless ``--debug``); 3 some batch cases failed;
4 an internal error (a bug: one line; ``--debug`` shows the traceback); 128 +
the signal's number when interrupted (130 for Ctrl-C, 143 for SIGTERM; 141,
quietly, when the reader of stdout goes away).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

try:  # Typer >= 0.20 vendors click; its exceptions derive from TyperException.
    from typer.exceptions import TyperException as _UsageError
except ImportError:  # pragma: no cover - older Typer on real click
    from click import ClickException as _UsageError  # type: ignore[assignment,no-redef,unused-ignore]

from segeval._version import __version__
from segeval.errors import SegevalError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Stopped(BaseException):
    """Carries a stop past Typer, which turns KeyboardInterrupt into a silent exit 130 (losing
    SIGTERM's 143) and a broken stdout pipe into exit 1 (which means "a gate failed")."""

    def __init__(self, code: int, message: str | None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class SegevalCommand(TyperCommand):
    """A command whose help reads as Click's: ``Usage: segeval score [OPTIONS] PRED GT``,
    upper-case metavars, options grouped in panels (``rich_help_panel``), the rest last."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            # An option without a metavar shows its type (`<str>`): name its value instead.
            if getattr(param, "param_type_name", "") == "option" and not getattr(param, "is_flag", False) \
                    and param.metavar is None and param.name:
                param.metavar = param.name.upper()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if getattr(param, "param_type_name", "") != "argument":
                continue
            name = param.metavar or (param.name or "").upper()
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args: list[tuple[str, str]] = []
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if getattr(param, "param_type_name", "") == "argument":
                args.append(record)
            else:
                panels.setdefault(getattr(param, "rich_help_panel", None) or _OTHER, []).append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        order = {title: i for i, title in enumerate(PANELS)}
        for title in sorted(panels, key=lambda t: order.get(t, len(order))):  # PANELS' order; the rest last
            with formatter.section(title if len(panels) > 1 or title != _OTHER else "Options"):
                formatter.write_dl(panels[title])


_OTHER = "Other options"
#: Help panels, in the order every command lists them.
PANELS = ("Cases", "Checks", "Baseline", "Labels", "Metrics", "Geometry", "Output", "Run", "Gate", _OTHER)


_F = TypeVar("_F", bound=Callable[..., Any])


def command(name: str, **kwargs: Any) -> Callable[[_F], _F]:
    """``app.command`` with segeval's help layout (:class:`SegevalCommand`)."""
    decorator: Callable[[_F], _F] = app.command(name, cls=SegevalCommand, **kwargs)
    return decorator


class _Group(TyperGroup):
    """Typer group whose errors are one stderr line and DESIGN.md's exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(128 + getattr(exc, "signum", 2), "segeval: interrupted") from None
        except BrokenPipeError:
            # The reader of stdout went away (`segeval ... | head`): stop quietly, as a shell's
            # pipeline does, without the interpreter's own complaint when it flushes stdout.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise _Stopped(128 + 13, None) from None

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        try:
            rv = super().main(
                args=argv, prog_name=prog_name or "segeval", complete_var=complete_var,
                standalone_mode=False, **extra,
            )
        except SegevalError as exc:
            if debug:
                traceback.print_exc()
            sys.stderr.write(f"segeval: error: {_one_line(str(exc))}\n")
            sys.exit(2)
        except _UsageError as exc:
            if type(exc).__name__ in ("NoArgsIsHelpError", "NoArgsIsHelp"):
                exc.show()  # type: ignore[attr-defined]
                sys.exit(2)
            if debug:
                raise
            ctx: Any = getattr(exc, "ctx", None)
            sub = f" {ctx.info_name}" if ctx is not None and ctx.parent else ""
            sys.stderr.write(
                f"segeval{sub}: error: {_one_line(exc.format_message())} (see 'segeval{sub} --help')\n"
            )
            sys.exit(2)
        except _Stopped as stop:
            if stop.message:
                sys.stderr.write(stop.message + "\n")
            sys.exit(stop.code)
        except typer.Abort:
            sys.stderr.write("segeval: interrupted\n")
            sys.exit(130)
        except KeyboardInterrupt as exc:
            sys.stderr.write("segeval: interrupted\n")
            sys.exit(128 + getattr(exc, "signum", 2))
        except Exception as exc:  # noqa: BLE001 - a bug: exit 4, never 1 (which means "a gate failed")
            if debug:
                traceback.print_exc()
            sys.stderr.write(f"segeval: internal error: {type(exc).__name__}: {_one_line(str(exc))}; "
                             "run with --debug for the traceback\n")
            sys.exit(4)
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Group,
    name="segeval",
    help="Score segmentation label volumes: per-class Dice, IoU, Tversky, HD95, NSD... fast.",
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segeval {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Score segmentation label volumes: per-class Dice, IoU, Tversky, HD95, NSD... fast.

    \b
    Examples:
      segeval score pred.nii.gz gt.nii.gz
      segeval batch preds/ labelsTs/ -o results.csv --summary summary.md
      segeval gate results.json --min dice=0.85
      segeval info gt.nii.gz
    """
