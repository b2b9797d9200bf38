"""Helpers shared by the ``hardymer`` commands: logging, option parsing, config building, errors."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from typing import Any, Callable, List, Optional

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperGroup

try:  # typer >= 0.2x ships its own copy of click
    from typer._click import ClickException
    from typer._click.exceptions import NoArgsIsHelpError
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import ClickException, get_current_context
    from click.exceptions import NoArgsIsHelpError

console = Console()
log = logging.getLogger("hardymer")


def setup_logging(verbose: bool) -> None:
    if sys.stderr.isatty():  # a terminal: rich's aligned, coloured records
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False)
        fmt = "%(message)s"
    else:  # a file or CI: one plain line per record, never wrapped
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format=fmt, handlers=[handler],
                        force=True)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)  # other libraries' INFO chatter stays quiet
    # faiss's loader logs six INFO lines on import (which SIMD build it tried): only with -v
    logging.getLogger("faiss.loader").setLevel(logging.DEBUG if verbose else logging.WARNING)


def parse_kv(items: Optional[List[str]], what: str) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it or not it.split("=", 1)[0].strip():
            raise typer.BadParameter(f"{what} must look like key=value, got {it!r}")
        k, v = it.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError:
            out[k.strip()] = v  # not a YAML scalar: keep the text
    return out


def parse_seeds(spec: str, what: str = "--seed") -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"`` -> [0, 2, 5]; anything else (``"3-1"``, ``"0-"``) -> ``ConfigError``."""
    from hardymer.errors import ConfigError

    seeds: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                lo, hi = int(part[:cut]), int(part[cut + 1:])
                if lo > hi:
                    raise ConfigError(f"{what} {spec}: empty range {part} (the start is after the end)")
                seeds += list(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ConfigError(f"{what} {spec}: {part!r} is not an integer, a list (0,1,2) or a range (0-4)") from None
    return seeds


def parse_condition_option(spec: str, what: str = "--condition") -> list[str]:
    """``parse_conditions`` with errors naming the option."""
    from hardymer.conditions import parse_conditions
    from hardymer.errors import ConfigError

    try:
        return parse_conditions(spec)
    except ValueError as exc:
        raise ConfigError(f"{what} {spec}: {exc}") from None


def build_config(config_files: Optional[List[str]], *, protocol: str, data: dict, train: dict,
                  method: Optional[str] = None, data_opt: Optional[List[str]] = None,
                  method_opt: Optional[List[str]] = None, set_: Optional[List[str]] = None,
                  recipe: Optional[str] = None, out: Optional[str] = None):
    """Defaults <- recipe <- YAML files <- flags (``None`` flags are left out) <- ``--data-opt``/``--method-opt`` <- ``--set``.

    The recipe's method options are those of ``method`` (a method or preset name; when ``None``,
    the method of the config files or the default). The result is validated (``validate_config``).
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from hardymer.config import load_config, omegaconf_message
    from hardymer.errors import ConfigError
    from hardymer.catalog.validation import validate_config

    recipe_over = None
    if recipe:
        from hardymer.catalog.presets import resolve_method
        from hardymer.catalog.recipes import recipe_overrides
        named = method if method is not None else str(load_config(*(config_files or [])).method.name)
        base_method = resolve_method(named)[0]
        recipe_over = recipe_overrides(recipe, base_method)

    def given(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    over: dict = {"data": given(data), "train": given(train), "protocol": protocol}
    if method is not None:
        over["method"] = {"name": method}
    try:
        cfg = OmegaConf.merge(load_config(recipe_over, *(config_files or [])), over)
        if data_opt:
            cfg.data.options = OmegaConf.merge(cfg.data.options, parse_kv(data_opt, "--data-opt"))
        if method_opt:
            cfg.method.options = OmegaConf.merge(cfg.method.options, parse_kv(method_opt, "--method-opt"))
    except OmegaConfBaseException as exc:
        raise ConfigError(omegaconf_message(exc)) from None
    for item in set_ or []:
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([item]))
        except OmegaConfBaseException as exc:
            raise ConfigError(f"--set {item}: {omegaconf_message(exc)}") from None
    if out is not None:
        cfg.out = out
    validate_config(cfg, check_out=out is not None)  # everything knowable before loading data
    return cfg


def fail(exc: Exception) -> None:
    """Hand ``exc`` to the error boundary (see :class:`HardymerTyper`): one ``error:`` line, exit 2."""
    raise exc


def error_message(exc: BaseException) -> str:
    """One line describing ``exc``: the library's own messages as they are, others with their type."""
    from hardymer.errors import HardymerError

    if isinstance(exc, ClickException):
        text = exc.format_message()
    elif isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # str(KeyError) would add quotes
    else:
        text = str(exc)
    plain = (HardymerError, ClickException, ValueError, KeyError, OSError, RuntimeError)
    if not isinstance(exc, plain) and not text.startswith(type(exc).__name__):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return " ".join(text.split())


def _verbose_requested(kwargs: dict) -> bool:
    if kwargs.get("verbose"):
        return True
    ctx = get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("verbose"):
            return True
        ctx = ctx.parent
    return False


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command callback: any exception -> ``error: <message>`` on stderr (no markup), exit 2;
    with ``-v`` (the command's or the global one) the traceback is printed first."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "verbose" in kwargs and not kwargs["verbose"] and _verbose_requested({}):
            kwargs["verbose"] = True  # the global -v turns on the command's own verbose output
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _verbose_requested(kwargs):
                sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            typer.echo(f"error: {error_message(exc)}", err=True)
            raise typer.Exit(2) from None

    return wrapper


VERBOSE_FLAGS = ("-v", "--verbose")


class HardymerGroup(TyperGroup):
    """The click group of the ``hardymer`` app: a command-line parse error (bad value, unknown or
    missing option) is one ``error:`` line naming the option, exit 2, instead of typer's framed box
    (kept with ``-v``). ``--help`` and no-arguments help are unchanged."""

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or any(a in VERBOSE_FLAGS for a in argv):
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) is not None else ""
            typer.echo(f"error: {error_message(exc)}{hint}", err=True)
            sys.exit(2)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class HardymerTyper(typer.Typer):
    """A ``typer.Typer`` whose every command (also ones added later) runs inside :func:`guard`, and
    whose parse errors are one ``error:`` line (:class:`HardymerGroup`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", HardymerGroup)
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            register(guard(fn))
            return fn

        return deco
