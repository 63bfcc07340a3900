"""The `farm` command: maps the farm's exceptions to exit codes (``FarmError.exit_code``) and
SIGTERM to Ctrl-C (no new cell starts, what finished is written). The exit codes themselves are
defined, and listed, in farm.errors.

The commands live by group, each importing what it needs only when it runs (so `farm --help`
stays fast): ``run`` (run, report), ``devices`` (devices, models, parse-log), ``compare``
(compare, nightly, history), ``runner`` (`farm runner fetch`), ``sim`` (`farm sim`), ``lab``
(`farm lab`, on Ray)."""

from __future__ import annotations

import signal
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

from farm.cli import compare, devices, lab, run, runner, sim
from farm.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, FarmError

_typer_display_type = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    # typer's rich help shows a value type for every option, flags included: `--help <bool>`,
    # `--dry-run <bool>`, as if they took a value. A flag takes none: show none.
    return None if self.is_flag else _typer_display_type(self, ctx)


TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]


class FarmGroup(TyperGroup):
    """Maps the farm's exceptions to exit codes in one place, also under typer's CliRunner."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except FarmError as exc:
            typer.echo(f"farm: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from exc
        except KeyboardInterrupt:
            typer.echo("farm: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=FarmGroup,
    help="Benchmark TensorFlow Lite / LiteRT models on every device and delegate of your lab.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# In the order `farm --help` lists them.
app.command()(run.run)
app.command()(run.report)
app.command("devices")(devices.devices_command)
app.command("models")(devices.models_command)
app.command()(compare.compare)
app.command()(compare.nightly)
app.command()(compare.history)
app.command("parse-log")(devices.parse_log)
app.add_typer(runner.runner_app, name="runner")
app.add_typer(sim.sim_app, name="sim")
app.add_typer(lab.lab_app, name="lab")


def main() -> None:
    """Console-script entry point. SIGTERM (a CI job cancelled, `kill`, systemd) is Ctrl-C."""
    terminated: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        app()
    except SystemExit as exc:
        if terminated and exc.code == EXIT_INTERRUPTED:
            raise SystemExit(EXIT_TERMINATED) from None
        raise
