"""Helpers shared by the ``hardymer`` commands: logging, option parsing, config building, errors."""

from __future__ import annotations

import logging
from typing import List, Optional

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler

console = Console()
log = logging.getLogger("hardymer")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)], force=True)


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
                  method_opt: Optional[List[str]] = None, set_: Optional[List[str]] = None,
                  recipe: Optional[str] = None):
    """Defaults <- recipe <- YAML files <- flags (``None`` flags are left out) <- ``--data-opt``/``--method-opt`` <- ``--set``.

    The recipe's method options are those of ``method`` (a method or preset name; when ``None``,
    the method of the config files or the default).
    """
    from omegaconf import OmegaConf

    from hardymer.config import load_config

    recipe_over = None
    if recipe:
        from hardymer.bench.presets import resolve_method
        from hardymer.bench.recipes import recipe_overrides
        named = method if method is not None else str(load_config(*(config_files or [])).method.name)
        base_method = resolve_method(named)[0]
        recipe_over = recipe_overrides(recipe, base_method)

    def given(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    over: dict = {"data": given(data), "train": given(train), "protocol": protocol}
    if method is not None:
        over["method"] = {"name": method}
    cfg = OmegaConf.merge(load_config(recipe_over, *(config_files or [])), over)
    if data_opt:
        cfg.data.options = OmegaConf.merge(cfg.data.options, parse_kv(data_opt, "--data-opt"))
    if method_opt:
        cfg.method.options = OmegaConf.merge(cfg.method.options, parse_kv(method_opt, "--method-opt"))
    if set_:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(set_)))
    return cfg


def fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)
