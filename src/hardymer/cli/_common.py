"""Helpers shared by the ``hardymer`` commands: logging, option parsing, config building, errors."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # checked against the click copy of the installed typer
    from typer._click import ClickException
    from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError
    from typer._click.globals import get_current_context

    from hardymer.conditions import Condition
else:
    try:  # typer >= 0.2x ships its own copy of click
        from typer._click import ClickException
        from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import ClickException, get_current_context
        from click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError

console = Console()
log = logging.getLogger("hardymer")
_F = TypeVar("_F", bound=Callable[..., Any])


VERBOSE_HELP = "debug logging; tracebacks with errors"


def verbose_option() -> Any:
    """The ``-v/--verbose`` option every command takes (also accepted before the command)."""
    return typer.Option(False, "-v", "--verbose", help=VERBOSE_HELP)


def missing_rate_option(default: str) -> Any:
    """``--missing-rate`` / ``--missing-rates`` of the random protocol (``default``: what applies when
    it is not given)."""
    return typer.Option(
        None,
        "--missing-rate",
        "--missing-rates",
        help=f"random protocol: missing rate(s) in [0, 0.7], a comma list or 'sweep' (0, 0.1, ..., 0.7); {default}",
    )


def mask_option(default: str = "independent") -> Any:
    """``--mask``: the random protocol's mask generator."""
    return typer.Option(None, help=f"random protocol: mask generator, independent or cpm (GCNet's; default: {default})")


def mask_seed_option(default: str = "0") -> Any:
    """``--mask-seed``: the seed of the random protocol's stored validation / test masks."""
    return typer.Option(
        None, help=f"random protocol: seed of the stored validation/test masks, never the run's (default: {default})"
    )


def setup_logging(verbose: bool) -> None:
    """Log records to stderr: rich's on a terminal, plain lines elsewhere; DEBUG with ``verbose``."""
    if sys.stderr.isatty():  # a terminal: rich's aligned, coloured records
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False)
        fmt = "%(message)s"
    else:  # a file or CI: one plain line per record, never wrapped
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format=fmt, handlers=[handler], force=True)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)  # other libraries' INFO chatter stays quiet
    # faiss's loader logs six INFO lines on import (which SIMD build it tried): only with -v
    logging.getLogger("faiss.loader").setLevel(logging.DEBUG if verbose else logging.WARNING)


def parse_kv(items: list[str] | None, what: str) -> dict:
    """``["k=v", ...]`` -> ``{k: YAML value of v}`` (the text itself when v is not YAML)."""
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
    from hardymer.bench.plan import parse_int_list

    return parse_int_list(spec, what)


def invoked_command() -> str | None:
    """``hardymer <arguments>`` as typed, for results headers (``None`` when not run as ``hardymer``)."""
    import shlex

    return "hardymer " + shlex.join(sys.argv[1:]) if sys.argv and "hardymer" in sys.argv[0] else None


def parse_condition_option(spec: str, what: str = "--condition") -> list[Condition]:
    """``parse_conditions`` (parsed :class:`~hardymer.conditions.Condition` values) with errors naming the option."""
    from hardymer.conditions import parse_conditions
    from hardymer.errors import ConfigError

    try:
        return parse_conditions(spec)
    except ValueError as exc:
        raise ConfigError(f"{what} {spec}: {exc}") from None


def rate_conditions(spec: str, what: str = "--missing-rate") -> list[str]:
    """The evaluation labels (``r0.30``) of the missing rates ``spec`` names (a rate, a comma list or
    ``sweep``), with errors naming the option."""
    from hardymer.bench.plan import parse_rate_list
    from hardymer.conditions import rate_label

    return [rate_label(r) for r in parse_rate_list(spec, what)]


def apply_missing_options(cfg: Any, rate: str | None, mask: str | None, mask_seed: int | None) -> None:
    """Set the random protocol's ``--mask`` / ``--mask-seed`` on ``cfg`` (``--missing-rate`` is set per
    run); any of them without ``--protocol random`` is an error (they would change nothing)."""
    from hardymer.errors import ConfigError

    given = [f for f, v in (("--missing-rate", rate), ("--mask", mask), ("--mask-seed", mask_seed)) if v is not None]
    if given and cfg.protocol != "random":
        raise ConfigError(f"{', '.join(given)}: only with --protocol random (the protocol is {cfg.protocol})")
    if mask is not None:
        cfg.missing.mask = mask
    if mask_seed is not None:
        cfg.missing.mask_seed = int(mask_seed)


def build_config(
    config_files: list[str] | None,
    *,
    protocol: str | None,
    data: dict,
    train: dict,
    method: str | None = None,
    data_opt: list[str] | None = None,
    method_opt: list[str] | None = None,
    set_: list[str] | None = None,
    recipe: str | None = None,
    out: str | None = None,
):
    """Defaults <- recipe <- YAML files <- flags (``None`` skipped) <- ``--data-opt``/``--method-opt`` <- ``--set``.

    ``protocol=None`` keeps the protocol of the config files (else the default).

    The recipe's method options are those of ``method`` (a method or preset name; when ``None``,
    the method of the config files or the default). The result is validated (``validate_config``).
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from hardymer.catalog.validation import validate_config
    from hardymer.config import load_config, omegaconf_message
    from hardymer.errors import ConfigError

    recipe_over = None
    if recipe:
        from hardymer.catalog.presets import resolve_method
        from hardymer.catalog.recipes import recipe_overrides

        named = method if method is not None else str(load_config(*(config_files or [])).method.name)
        base_method = resolve_method(named)[0]
        recipe_over = recipe_overrides(recipe, base_method)

    def given(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    over: dict = {"data": given(data), "train": given(train)}
    if protocol is not None:
        over["protocol"] = protocol
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
    # everything knowable before loading data; a file's condition may name several (train runs each)
    validate_config(cfg, check_out=out is not None, condition_list=True)
    return cfg


def config_file_values(config_files: list[str] | None) -> dict:
    """The keys the config files set (merged in order, without the defaults), as plain values."""
    from omegaconf import OmegaConf

    from hardymer.config import load_config

    merged: dict = {}
    for f in config_files or []:
        load_config(f)  # a missing or malformed file: its own clear error
        merged = OmegaConf.to_container(OmegaConf.merge(merged, OmegaConf.load(f)), resolve=True)  # type: ignore[assignment]
    return merged


def _dotted(d: dict, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return _UNSET
        d = d[part]
    return d


_UNSET = object()


def log_overrides(file_values: dict, flags: dict[str, tuple[str, Any]], config_files: list[str] | None) -> None:
    """Log (INFO) each flag given on the command line that replaces a different value of the config files.

    ``flags``: config key -> (flag, value given or ``None``)."""
    where = ", ".join(config_files or [])
    for key, (flag, value) in flags.items():
        old = _dotted(file_values, key)
        if value is not None and old is not _UNSET and str(old) != str(value):
            log.info("%s %s overrides %s: %s of --config %s", flag, value, key, old, where)


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

#: help metavars in place of typer's type names (``<str>``, ``<list[int]>``); flags show none
_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "bool": ""}
#: what a value of a typed option must be, for parse errors
_TYPE_WORDS = {"int": "integer", "integer": "integer", "float": "number", "bool": "boolean", "boolean": "boolean"}


def _type_name(param: Any) -> str | None:
    """``int``, ``str``, ... of a parameter (``list[int]`` -> ``int``); ``None`` when unknown."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:  # typer >= 0.2x
        annotation = desc.annotation
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (list, tuple) and args:
            annotation = args[0]
        return getattr(annotation, "__name__", None)
    kind = getattr(param, "type", None)  # click's parameter types
    return getattr(kind, "name", None)


def plain_metavars(params: list[Any]) -> list[Any]:
    """Give parameters without a metavar a plain one (``TEXT``, ``INTEGER``; none for flags)."""
    for p in params:
        if getattr(p, "param_type_name", "") == "argument":
            if hasattr(p, "display_type_rich"):
                p.display_type_rich = _no_type  # the argument's NAME says what it is
            if p.metavar is None:
                p.metavar = str(p.name).upper()
            continue
        if getattr(p, "metavar", None) is not None:
            continue
        if getattr(p, "is_flag", False):
            p.metavar = ""
        else:
            name = _type_name(p)
            if name in _METAVARS:
                p.metavar = _METAVARS[name]
    return params


def _no_type(ctx: Any = None) -> None:
    """No type column for an argument in ``--help``."""
    return None


def option_name(param: Any) -> str:
    """The name a parse error gives a parameter: its long option (``--epochs``), or ``NAME`` (an argument)."""
    opts = list(getattr(param, "opts", None) or [])
    if getattr(param, "param_type_name", "") == "argument" or not opts:
        return str(getattr(param, "name", "") or "value").upper()
    return next((o for o in opts if o.startswith("--")), opts[0])


def parse_error_message(exc: ClickException) -> str:
    """One line for a command-line parse error: ``--epochs: 'abc' is not a valid integer`` for a
    bad value, typer's own text (one line) for the others."""
    param = getattr(exc, "param", None)
    if isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and param is not None:
        kind = _TYPE_WORDS.get(str(_type_name(param)))
        value = _bad_input(exc)
        if kind is not None and value is not None:
            return f"{option_name(param)}: {value!r} is not a valid {kind}"
        return f"{option_name(param)}: {' '.join(str(exc.message).split()).rstrip('.')}"
    return error_message(exc).rstrip(".")


def _bad_input(exc: BaseException) -> Any:
    """The value a parameter refused: the input of typer's validation error (``None`` when unknown)."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        try:
            found = errors()
        except Exception:  # not a validation error after all
            return None
        if found and isinstance(found[0], dict) and isinstance(found[0].get("input"), str):
            return found[0]["input"]
    return None


class HardymerCommand(TyperCommand):
    """A typer command whose ``--help`` shows plain metavars (``TEXT``, ``INTEGER``; none for flags)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return plain_metavars(super().get_params(ctx))


class HardymerGroup(TyperGroup):
    """The click group of the ``hardymer`` app: a command-line parse error (bad value, unknown or
    missing option) is one ``error:`` line naming the option, exit 2, instead of typer's framed box
    (kept with ``-v``). ``--help`` and no-arguments help are unchanged, with plain metavars."""

    def get_params(self, ctx: Any) -> list[Any]:
        return plain_metavars(super().get_params(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or any(a in VERBOSE_FLAGS for a in argv):
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            rv = super().main(
                argv, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)  # usage errors carry the command's context
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            typer.echo(f"error: {parse_error_message(exc)}{hint}", err=True)
            sys.exit(2)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class HardymerTyper(typer.Typer):
    """A ``typer.Typer`` whose every command (also ones added later) runs inside :func:`guard`, shows
    plain metavars in ``--help`` (:class:`HardymerCommand`), and whose parse errors are one
    ``error:`` line (:class:`HardymerGroup`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", HardymerGroup)
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[_F], _F]:
        kwargs.setdefault("cls", HardymerCommand)
        register = super().command(*args, **kwargs)

        def deco(fn: _F) -> _F:
            register(guard(fn))
            return fn

        return deco
