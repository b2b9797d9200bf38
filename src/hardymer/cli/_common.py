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

try:  # typer >= 0.2x ships its own copy of click
    from typer._click import ClickException
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import ClickException, get_current_context

console = Console()
log = logging.getLogger("hardymer")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)], force=True)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)  # other libraries' INFO chatter stays quiet


def parse_kv(items: Optional[List[str]], what: str) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise typer.BadParameter(f"{what} must look like key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def parse_seeds(spec: str) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"`` -> [0, 2, 5]."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            seeds += list(range(int(a), int(b) + 1))
        else:
            seeds.append(int(part))
    return seeds


def build_config(config_files: Optional[List[str]], *, protocol: str, data: dict, train: dict,
                  method: Optional[str] = None, data_opt: Optional[List[str]] = None,
                  method_opt: Optional[List[str]] = None, set_: Optional[List[str]] = None):
    """Defaults <- YAML files <- flags (``None`` flags are left out) <- ``--data-opt``/``--method-opt`` <- ``--set``."""
    from omegaconf import OmegaConf

    from hardymer.config import load_config

    def given(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    over: dict = {"data": given(data), "train": given(train), "protocol": protocol}
    if method is not None:
        over["method"] = {"name": method}
    cfg = OmegaConf.merge(load_config(*(config_files or [])), over)
    if data_opt:
        cfg.data.options = OmegaConf.merge(cfg.data.options, parse_kv(data_opt, "--data-opt"))
    if method_opt:
        cfg.method.options = OmegaConf.merge(cfg.method.options, parse_kv(method_opt, "--method-opt"))
    if set_:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(set_)))
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


class HardymerTyper(typer.Typer):
    """A ``typer.Typer`` whose every command (also ones added later) runs inside :func:`guard`."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            register(guard(fn))
            return fn

        return deco
