"""The imagination-network line, utterance level: ``mmin``, ``if-mmin`` and ``cif-mmin``.

All three are two-stage and utterance-level (``uses_groups = False``): every utterance is encoded
on its own by per-modality fully connected encoders (GCNet's ``baseline-mmin`` form of MMIN), a
missing modality's input is zeroed before its encoder, and training flattens a batch to its valid
utterances, so padding never enters a loss or a batch statistic.

- Stage 1 (full modalities) trains the encoders and a stage-1 classifier (``if-mmin``: plus a
  shared invariant projector with a CMD loss; ``cif-mmin``: plus per-modality contrastive
  encoders with an InfoNCE loss). The stage-1 model is the teacher.
- At the start of stage 2 a frozen copy of the teacher's encoders supplies the targets; the
  student's encoders are fine-tuned. Stage 2 trains the imagination module and the classifier on
  one missing pattern per utterance and step (``train_patterns``: the protocol's condition, or the
  release's uniform draw over the six partial patterns).
- Imagination target (``target``): ``release`` = the teacher's encodings of the "reverse" input
  (the missing modalities' real features, the available ones zeroed) over all slots, as the
  released code does; ``missing`` = the teacher's encodings of the missing modalities' real
  features, on the missing slots only, as the papers describe.

Inference is one forward pass of the stage-2 network on the masked input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn

from hardymer.conditions import MISSING_CONDITIONS, MODALITIES, Condition
from hardymer.data.batching import Batch
from hardymer.errors import ConfigError
from hardymer.models._api import register_method
from hardymer.models.base import Method, MethodSpec
from hardymer.models.imagination import ResidualAE, cmd, fc_stack, frozen_copy, masked_mse, pair_info_nce

TARGETS = ("release", "missing")
TRAIN_PATTERNS = ("condition", "release")
#: the six partial patterns (available modalities) of the release's training draw
PARTIAL_MASKS = torch.as_tensor(np.stack([Condition(c).mask for c in MISSING_CONDITIONS]))
#: offset of the stage-2 pattern generator's seed from the run's seed
PATTERN_SEED_OFFSET = 2021
#: modality pairs of the contrastive and CMD losses
PAIRS = (("a", "t"), ("a", "v"), ("t", "v"))


def _widths() -> list[int]:
    return [128, 128]


def _ae_widths() -> list[int]:
    return [256, 128, 64]


@dataclass
class MMINConfig:
    hidden: int = 128  # per-modality embedding (the fused vector is 3·hidden)
    cls_layers: list[int] = field(default_factory=_widths)  # hidden widths of encoders and classifiers
    ae_layers: list[int] = field(default_factory=_ae_widths)  # one autoencoder block: 3·hidden -> ... -> 3·hidden
    n_blocks: int = 5
    dropout: float = 0.3
    stage1_fraction: float = 0.5
    task_weight: float = 1.0
    imagination_weight: float = 4.0  # forward imagination MSE
    cycle_weight: float = 2.0  # backward (cycle) MSE; 0 skips the backward autoencoder
    target: str = "release"  # release (reverse-input encodings, all slots) | missing (missing slots only)
    train_patterns: str = "condition"  # condition (the protocol's) | release (uniform over the six partial patterns)
    regression_loss: str = "l1"


@dataclass
class IFMMINConfig:
    hidden: int = 128
    cls_layers: list[int] = field(default_factory=_widths)
    ae_layers: list[int] = field(default_factory=_ae_widths)
    n_blocks: int = 5
    dropout: float = 0.3
    stage1_fraction: float = 0.5
    cmd_weight: float = 1.0  # stage 1: CMD between the modalities' invariant features
    cmd_moments: int = 5
    task_weight: float = 1.0
    imagination_weight: float = 1.0
    invariant_weight: float = 100.0  # the value the release's script passes (as --consistent_weight)
    target: str = "release"
    train_patterns: str = "condition"
    regression_loss: str = "l1"


def _pair_weights() -> dict[str, float]:
    return {"at": 0.25, "av": 0.5, "tv": 0.25}


@dataclass
class CIFMMINConfig:
    hidden: int = 128
    cls_layers: list[int] = field(default_factory=_widths)
    ae_layers: list[int] = field(default_factory=_ae_widths)
    n_blocks: int = 5
    dropout: float = 0.3
    stage1_fraction: float = 0.5
    contrastive_weight: float = 1.0  # stage 1: weighted sum of the pairwise InfoNCE losses
    pair_weights: dict[str, float] = field(default_factory=_pair_weights)  # at = T–A, av = V–A, tv = T–V
    temperature_init: float = 1.0  # t of the learnable logit scale exp(t)
    max_logit_scale: float = 100.0
    exclude_positive: bool = True  # the InfoNCE denominator leaves the positive out (release); false: CLIP
    task_weight: float = 1.0
    imagination_weight: float = 8.0
    consistency_weight: float = 100.0
    target: str = "release"
    train_patterns: str = "condition"
    regression_loss: str = "l1"


#: options that act in stage 2 only (left out of the stage-1 signature)
STAGE2_OPTIONS = (
    "task_weight",
    "imagination_weight",
    "cycle_weight",
    "invariant_weight",
    "consistency_weight",
    "target",
    "train_patterns",
)


def valid_rows(batch: Batch) -> Batch:
    """The valid utterances of ``batch`` as a ``[N, 1]`` batch (padding dropped)."""
    v = batch.valid

    def rows(t: torch.Tensor) -> torch.Tensor:
        return t[v].unsqueeze(1)

    return Batch(
        x={m: rows(t) for m, t in batch.x.items()},
        x_full={m: rows(t) for m, t in batch.x_full.items()},
        avail=rows(batch.avail),
        avail_full=rows(batch.avail_full),
        valid=torch.ones(int(v.sum()), 1, dtype=torch.bool, device=v.device),
        y=rows(batch.y),
        idx=rows(batch.idx),
    )


class ImaginationMethod(Method):
    """Common schedule of the MMIN family: teacher in stage 1, frozen copy + imagination in stage 2.

    Subclasses build their modules, name the modules the frozen teacher copies
    (:meth:`teacher_modules`) and implement :meth:`stage1_loss`, :meth:`outputs` and
    :meth:`stage2_loss` on flattened ``[N, 1]`` batches (``outputs`` also on group batches).
    """

    stage1_fraction = 0.5
    uses_groups = False  # every output depends on its own utterance only
    method_name = ""

    def __init__(self, spec: MethodSpec, config) -> None:
        super().__init__(spec, config)
        self._check_config()
        self.stage1_fraction = config.stage1_fraction
        self.fused_dim = 3 * config.hidden
        object.__setattr__(self, "_frozen", None)  # not a submodule: never trained or saved
        object.__setattr__(self, "_pattern_gen", None)

    def _check_config(self) -> None:
        c, n = self.config, self.method_name
        if c.target not in TARGETS:
            raise ConfigError(f"{n}: target must be one of {', '.join(TARGETS)}, got {c.target!r}")
        if c.train_patterns not in TRAIN_PATTERNS:
            raise ConfigError(
                f"{n}: train_patterns must be one of {', '.join(TRAIN_PATTERNS)}, got {c.train_patterns!r}"
            )
        if c.hidden < 1 or c.n_blocks < 1 or not c.ae_layers or any(int(w) < 1 for w in [*c.ae_layers, *c.cls_layers]):
            raise ConfigError(f"{n}: hidden, n_blocks and every layer width must be >= 1, ae_layers non-empty")
        if not 0.0 <= c.dropout < 1.0:
            raise ConfigError(f"{n}: dropout must be in [0, 1), got {c.dropout}")
        if not 0.0 < c.stage1_fraction < 1.0:
            raise ConfigError(
                f"{n}: stage1_fraction must be in (0, 1) (stage 1 trains the teacher), got {c.stage1_fraction}"
            )
        for k in (
            "task_weight",
            "imagination_weight",
            "cycle_weight",
            "invariant_weight",
            "consistency_weight",
            "cmd_weight",
            "contrastive_weight",
        ):
            if getattr(c, k, 0.0) < 0:
                raise ConfigError(f"{n}: {k} must be >= 0, got {getattr(c, k)}")

    def _encoders(self) -> nn.ModuleDict:
        return nn.ModuleDict(
            {
                m: fc_stack(self.spec.dims[m], self.config.cls_layers, self.config.hidden, self.config.dropout)
                for m in MODALITIES
            }
        )

    def _classifier(self, d_in: int) -> nn.Sequential:
        return fc_stack(d_in, self.config.cls_layers, self.spec.output_dim, self.config.dropout)

    # ------------------------------------------------------------------ schedule
    def stage1_signature(self) -> dict | None:
        """Stage 1 does not depend on the condition: it depends on the method and its stage-1 options."""
        cfg = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in STAGE2_OPTIONS}
        return {"stage1": f"{self.method_name}-teacher", "config": cfg}

    def teacher_modules(self) -> dict[str, nn.Module]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def teacher(self) -> dict[str, nn.Module] | None:
        """The frozen copy of the stage-1 modules (``None`` before stage 2)."""
        return self.__dict__["_frozen"]

    def on_stage_start(self, stage: int, ctx) -> None:
        if stage == 2:
            object.__setattr__(self, "_frozen", {k: frozen_copy(m) for k, m in self.teacher_modules().items()})
            object.__setattr__(self, "_pattern_gen", torch.Generator().manual_seed(int(ctx.seed) + PATTERN_SEED_OFFSET))

    def stage2_batch(self, batch: Batch, ctx) -> Batch:
        """The valid utterances of ``batch`` under this step's missing pattern (see ``train_patterns``)."""
        if self.config.train_patterns == "condition":
            return valid_rows(batch.with_availability(ctx.conditions.sample(batch)))
        rows = valid_rows(batch)
        gen = self.__dict__["_pattern_gen"]
        if gen is None:
            gen = torch.Generator().manual_seed(int(ctx.seed) + PATTERN_SEED_OFFSET)
            object.__setattr__(self, "_pattern_gen", gen)
        ids = torch.randint(len(PARTIAL_MASKS), (rows.valid.shape[0],), generator=gen)
        return rows.with_availability(PARTIAL_MASKS[ids].to(rows.valid.device).unsqueeze(1))

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        if self.stage(epoch, ctx.train.epochs) == 1:
            return self.stage1_loss(valid_rows(batch))
        if self.teacher is None:  # stage 2 entered without the hook (e.g. a loss computed directly)
            self.on_stage_start(2, ctx)
        return self.stage2_loss(self.stage2_batch(batch, ctx))

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.outputs(batch)["out"]

    def stage1_loss(self, b: Batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def outputs(self, b: Batch) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def stage2_loss(self, b: Batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ shared pieces
    @staticmethod
    def encode(encoders: nn.Module, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenated per-modality encodings ``[..., 3·hidden]`` of the inputs ``x`` (``encoders``:
        a ``ModuleDict`` by modality)."""
        mods = cast(nn.ModuleDict, encoders)
        return torch.cat([mods[m](x[m]) for m in MODALITIES], dim=-1)

    def missing_slots(self, b: Batch) -> torch.Tensor:
        """``[N, 1, 3]`` True where a modality is missing from the input and has stored features."""
        return (~b.avail) & b.avail_full & b.valid.unsqueeze(-1)

    @torch.no_grad()
    def imagination_target(self, b: Batch, encoders: str = "encoders") -> tuple[torch.Tensor, torch.Tensor | None]:
        """The frozen teacher's target for the imagination output, and the mask of the slots it
        counts on (``None``: all). ``release``: encodings of the reverse input (missing modalities'
        features, available ones zeroed); ``missing``: encodings of the complete features on the
        missing slots only."""
        teacher = self.teacher
        assert teacher is not None, "the frozen teacher is made at the start of stage 2"
        miss = self.missing_slots(b)
        if self.config.target == "release":
            rev = {m: b.x_full[m] * miss[..., j : j + 1].to(b.x_full[m].dtype) for j, m in enumerate(MODALITIES)}
            return self.encode(teacher[encoders], rev), None
        mask = miss.repeat_interleave(self.config.hidden, dim=-1)
        return self.encode(teacher[encoders], b.x_full), mask


@register_method(
    "mmin",
    MMINConfig,
    paper="Zhao, Li, Jin 2021, MMIN: missing modality imagination network (ACL-IJCNLP 2021); "
    "utterance-level form of GCNet's baseline-mmin",
    venue="ACL-IJCNLP 2021",
    protocols=["fixed", "unified", "random"],
    differs="FC encoders (GCNet's utterance-level form) instead of LSTM/TextCNN; one global grad clip; "
    "stage-2 patterns from the protocol's condition by default (train_patterns=release: the six-pattern "
    "draw); validation selection on the harness metric; weight decay applied in both stages",
)
class MMIN(ImaginationMethod):
    """MMIN: cascade residual autoencoder imagining the fused representation, with a cycle."""

    method_name = "mmin"

    def __init__(self, spec: MethodSpec, config: MMINConfig) -> None:
        super().__init__(spec, config)
        D = self.fused_dim
        self.encoders = self._encoders()
        self.teacher_head = self._classifier(D)  # stage 1
        self.ae = ResidualAE(D, config.ae_layers, config.n_blocks, "cascade")
        self.ae_cycle = ResidualAE(D, config.ae_layers, config.n_blocks, "cascade")
        self.head = self._classifier(self.ae.latent_dim)

    def teacher_modules(self) -> dict[str, nn.Module]:
        return {"encoders": self.encoders}

    def stage1_loss(self, b: Batch) -> torch.Tensor:
        return self.task_loss(self.teacher_head(self.encode(self.encoders, b.x)), b.y, b.valid)

    def outputs(self, b: Batch) -> dict[str, torch.Tensor]:
        fused = self.encode(self.encoders, b.x)
        recon, latents = self.ae(fused)
        return {"out": self.head(latents), "fused": fused, "recon": recon, "latents": latents}

    def stage2_loss(self, b: Batch) -> torch.Tensor:
        c = self.config
        o = self.outputs(b)
        loss = c.task_weight * self.task_loss(o["out"], b.y, b.valid)
        if c.imagination_weight > 0:
            target, mask = self.imagination_target(b)
            loss = loss + c.imagination_weight * masked_mse(o["recon"], target, mask)
        if c.cycle_weight > 0:
            back, _ = self.ae_cycle(o["recon"])
            loss = loss + c.cycle_weight * masked_mse(back, o["fused"].detach())
        return loss


@register_method(
    "if-mmin",
    IFMMINConfig,
    paper="Zuo, Liu, Zhao, Gao, Li 2023, IF-MMIN: exploiting modality-invariant feature for robust multimodal "
    "emotion recognition with missing modalities (ICASSP 2023)",
    venue="ICASSP 2023",
    protocols=["fixed", "unified", "random"],
    differs="FC encoders instead of LSTM/TextCNN; invariant_weight=100 (the release's script passes it under a "
    "name the model does not define); chained IF-IM of the current release; stage-2 patterns from the "
    "protocol's condition by default; one global grad clip; validation selection on the harness metric",
)
class IFMMIN(ImaginationMethod):
    """IF-MMIN: shared invariant projector with CMD in stage 1; IF-IM guided by invariant features."""

    method_name = "if-mmin"

    def __init__(self, spec: MethodSpec, config: IFMMINConfig) -> None:
        super().__init__(spec, config)
        if config.cmd_moments < 1:
            raise ConfigError(f"if-mmin: cmd_moments must be >= 1, got {config.cmd_moments}")
        H, D = config.hidden, self.fused_dim
        self.encoders = self._encoders()
        self.shared = nn.Sequential(nn.Linear(H, H), nn.LeakyReLU(), nn.Linear(H, H), nn.LeakyReLU())
        self.teacher_head = self._classifier(2 * D)  # stage 1: [specific; invariant]
        self.ae = ResidualAE(D, config.ae_layers, config.n_blocks, "chained")
        self.head = self._classifier(self.ae.latent_dim)

    def teacher_modules(self) -> dict[str, nn.Module]:
        return {"encoders": self.encoders, "shared": self.shared}

    def invariant(self, shared: nn.Module, fused: torch.Tensor) -> torch.Tensor:
        """The shared projector applied to each modality's slot of ``fused``, concatenated."""
        return torch.cat([shared(h) for h in fused.split(self.config.hidden, dim=-1)], dim=-1)

    def stage1_loss(self, b: Batch) -> torch.Tensor:
        c = self.config
        fused = self.encode(self.encoders, b.x)
        inv = self.invariant(self.shared, fused)
        loss = self.task_loss(self.teacher_head(torch.cat([fused, inv], dim=-1)), b.y, b.valid)
        if c.cmd_weight > 0:
            parts = dict(zip(MODALITIES, inv.reshape(-1, 3, c.hidden).unbind(1)))
            avail = b.avail.reshape(-1, 3)
            terms = []
            for m, n in PAIRS:
                both = avail[:, MODALITIES.index(m)] & avail[:, MODALITIES.index(n)]
                if int(both.sum()) >= 2:
                    terms.append(cmd(parts[m][both], parts[n][both], c.cmd_moments))
            if terms:
                loss = loss + c.cmd_weight * torch.stack(terms).mean()
        return loss

    def outputs(self, b: Batch) -> dict[str, torch.Tensor]:
        fused = self.encode(self.encoders, b.x)
        inv = self.invariant(self.shared, fused)
        recon, latents = self.ae(fused, inv)
        return {"out": self.head(latents), "fused": fused, "invariant": inv, "recon": recon, "latents": latents}

    def stage2_loss(self, b: Batch) -> torch.Tensor:
        c = self.config
        o = self.outputs(b)
        loss = c.task_weight * self.task_loss(o["out"], b.y, b.valid)
        if c.imagination_weight > 0:
            target, mask = self.imagination_target(b)
            loss = loss + c.imagination_weight * masked_mse(o["recon"], target, mask)
        if c.invariant_weight > 0:
            teacher = self.teacher
            assert teacher is not None
            with torch.no_grad():
                t_inv = self.invariant(teacher["shared"], self.encode(teacher["encoders"], b.x_full))
            loss = loss + c.invariant_weight * masked_mse(o["invariant"], t_inv)
        return loss


@register_method(
    "cif-mmin",
    CIFMMINConfig,
    paper="Liu, Zuo, Lian, Schuller, Li 2024, contrastive learning based modality-invariant feature acquisition "
    "for robust multimodal emotion recognition with missing modalities (IEEE TAC 2024)",
    venue="IEEE TAC 2024",
    protocols=["fixed", "unified", "random"],
    differs="FC specific and contrastive encoders instead of LSTM/TextCNN (so no pooling mismatch between "
    "stages); projection-head shape, symmetric InfoNCE and logit-scale cap are guesses; stage-2 patterns "
    "from the protocol's condition by default; one global grad clip; validation selection on the harness "
    "metric; seeded",
)
class CIFMMIN(ImaginationMethod):
    """CIF-MMIN: contrastive (Con) encoders in stage 1; their masked-input features guide the imagination."""

    method_name = "cif-mmin"

    def __init__(self, spec: MethodSpec, config: CIFMMINConfig) -> None:
        super().__init__(spec, config)
        if set(config.pair_weights) != {"".join(p) for p in PAIRS} or any(w < 0 for w in config.pair_weights.values()):
            raise ConfigError(
                f"cif-mmin: pair_weights must give a weight >= 0 to each of at, av, tv, got {dict(config.pair_weights)}"
            )
        if config.max_logit_scale <= 0:
            raise ConfigError(f"cif-mmin: max_logit_scale must be > 0, got {config.max_logit_scale}")
        H, D = config.hidden, self.fused_dim
        self.encoders = self._encoders()
        self.con_encoders = self._encoders()
        self.projections = nn.ModuleDict(
            {m: nn.Sequential(nn.Linear(H, H), nn.LayerNorm(H), nn.LeakyReLU(), nn.Linear(H, H)) for m in MODALITIES}
        )
        self.logit_scale = nn.Parameter(torch.tensor(float(config.temperature_init)))
        self.teacher_head = self._classifier(D)  # stage 1: specific features only
        self.ae = ResidualAE(D, config.ae_layers, config.n_blocks, "chained-residual")
        self.head = self._classifier(D)  # on fused + reconstruction

    def teacher_modules(self) -> dict[str, nn.Module]:
        return {"encoders": self.encoders, "con_encoders": self.con_encoders}

    def contrastive_loss(self, b: Batch) -> torch.Tensor:
        """Weighted pairwise InfoNCE between the projected Con features of utterances that have both modalities."""
        c = self.config
        scale = self.logit_scale.exp().clamp(max=c.max_logit_scale)
        avail = b.avail.reshape(-1, 3)
        z = {m: self.projections[m](self.con_encoders[m](b.x[m].reshape(avail.shape[0], -1))) for m in MODALITIES}
        loss = scale.new_zeros(())
        for m, n in PAIRS:
            both = avail[:, MODALITIES.index(m)] & avail[:, MODALITIES.index(n)]
            w = float(c.pair_weights[m + n])
            if w > 0 and int(both.sum()) >= 2:
                loss = loss + w * pair_info_nce(z[m][both], z[n][both], scale, c.exclude_positive)
        return loss

    def stage1_loss(self, b: Batch) -> torch.Tensor:
        loss = self.task_loss(self.teacher_head(self.encode(self.encoders, b.x)), b.y, b.valid)
        if self.config.contrastive_weight > 0:
            loss = loss + self.config.contrastive_weight * self.contrastive_loss(b)
        return loss

    def outputs(self, b: Batch) -> dict[str, torch.Tensor]:
        fused = self.encode(self.encoders, b.x)
        cons = self.encode(self.con_encoders, b.x)
        recon, latents = self.ae(fused, cons)
        return {"out": self.head(fused + recon), "fused": fused, "consistent": cons, "recon": recon, "latents": latents}

    def stage2_loss(self, b: Batch) -> torch.Tensor:
        c = self.config
        o = self.outputs(b)
        loss = c.task_weight * self.task_loss(o["out"], b.y, b.valid)
        if c.imagination_weight > 0:
            target, mask = self.imagination_target(b)
            loss = loss + c.imagination_weight * masked_mse(o["recon"], target, mask)
        if c.consistency_weight > 0:
            teacher = self.teacher
            assert teacher is not None
            with torch.no_grad():
                t_cons = self.encode(teacher["con_encoders"], b.x_full)
            loss = loss + c.consistency_weight * masked_mse(o["consistent"], t_cons)
        return loss
