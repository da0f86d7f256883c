"""Per-channel normalisation: BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm1d/2d/3d and
their Lazy variants. InstanceNorm shares BatchNorm's arguments, parameters and running
statistics; it takes its statistics per sample.

convcalc models inference: the checks PyTorch makes in eval mode are errors here;
the ones it makes only when training become notes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from ..receptive import ReceptiveField, make_global
from ..shape import Shape, fmt_shape, prod
from .arguments import REQUIRED, Arg, to_bool, to_float, to_int, to_opt_float
from .base import Example, Lazy, lazy_args, register
from .checks import require_rank, spatial_example, spatial_input
from .norm import (
    BIAS_ARG,
    KeywordBias,
    channel_affine,
    channel_mismatch,
    default_init,
    non_negative,
    normalise_rows,
)


def _empty_affine(arg: str, cdim: int) -> ShapeError:
    # PyTorch fails with "IndexError: select(): index 0 out of range" here
    return ShapeError(
        "an affine norm over 0 channels fails in PyTorch",
        argument=arg,
        expected="at least 1 channel",
        got=0,
        dim=cdim,
        hint="set affine: false, or give the input at least one channel",
    )


class _PerChannelNorm(KeywordBias):
    """BatchNorm and InstanceNorm: per-channel affine parameters and running statistics."""

    nd: ClassVar[int] = 2
    N_POSITIONAL = (
        5  # num_features, eps, momentum, affine, track_running_stats (device, dtype: by keyword)
    )
    IGNORED: ClassVar[tuple[str, ...]] = ("device", "dtype")

    num_features: int | None
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    bias: bool

    @classmethod
    def _args(cls, affine: bool, track: bool) -> tuple[Arg, ...]:
        return (
            Arg("num_features", to_int, REQUIRED, infer=True),
            Arg("eps", to_float, 1e-05),
            Arg("momentum", to_opt_float, 0.1),
            Arg("affine", to_bool, affine),
            Arg("track_running_stats", to_bool, track),
            BIAS_ARG,
        )

    def check(self) -> None:
        # the tensors are only created when affine or tracking
        if self.affine or self.track_running_stats:
            non_negative("num_features", self.num_features, "")

    def channel_dim(self, x: Shape) -> int:
        raise NotImplementedError

    def _stats_size(self, x: Shape, cdim: int) -> int:
        """How many values each channel's batch statistic is taken over."""
        raise NotImplementedError

    #: torch's Lazy norms read num_features from this input dim, even for an unbatched input
    lazy_dim: ClassVar[int | None] = None

    def _lazy_features(self, x: Shape) -> int | None:
        if self.num_features is None and self.lazy_dim is not None and len(x) > self.lazy_dim:
            return x[self.lazy_dim]
        return self.num_features

    def out_shape(self, x: Shape) -> Shape:
        cdim = self.channel_dim(x)
        c = x[cdim]
        want = self._lazy_features(x)
        if want is not None and c != want and (self.affine or self.track_running_stats):
            raise channel_mismatch("num_features", want, c, cdim)
        if self.affine and c == 0:
            raise _empty_affine("num_features", cdim)
        if not self.track_running_stats and self._stats_size(x, cdim) == 1:
            raise ShapeError(
                self._one_value_message(x),
                argument="track_running_stats",
                got=x,
                hint=self._one_value_hint,
            )
        return x

    _one_value_hint = "use a larger batch or input, or track_running_stats: true (eval mode then uses running statistics)"

    def _one_value_message(self, x: Shape) -> str:
        raise NotImplementedError

    def _channels(self, x: Shape | None) -> int | None:
        if self.num_features is not None:
            return self.num_features
        if x is None:
            return None
        if self.lazy_dim is not None:
            return self._lazy_features(x)
        try:
            return x[self.channel_dim(x)]
        except ShapeError:
            return None

    def inferred_values(self, x: Shape) -> dict[str, Any]:
        return {"num_features": self._channels(x)}

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        if not self.affine:
            return {}
        c = self._channels(x)
        if c is None:
            return None
        return {"weight": (c,), "bias": (c,)} if self.bias else {"weight": (c,)}

    def buffers(self, x: Shape | None) -> dict[str, Shape] | None:
        if not self.track_running_stats:
            return {}
        c = self._channels(x)
        if c is None:
            return None
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    def notes(self, x: Shape, y: Shape) -> list[str]:
        notes = []
        cdim = self.channel_dim(x)
        if self.num_features is not None and x[cdim] != self.num_features:
            notes.append(
                f"num_features={self.num_features} but the input has {x[cdim]} channels; "
                "PyTorch does not check this when affine and track_running_stats are false"
            )
        if self.track_running_stats and self._stats_size(x, cdim) == 1:
            notes.append("training mode would fail: " + self._one_value_message(x))
        return notes

    # -- NumPy forward pass (eval mode) --------------------------------------
    REUSES_INPUT = True

    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        return default_init(self, x)

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        return self.forward_into(x, w, budget, None)

    def _affine_terms(self, w: dict[str, Any]) -> tuple[Any, Any]:
        """Eval mode with running statistics: x·scale + shift per channel, in float64."""
        import numpy as np

        scale = 1 / np.sqrt(np.asarray(w["running_var"], dtype=np.float64) + self.eps)
        if self.affine and w.get("weight") is not None:
            scale = scale * w["weight"]
        shift = -np.asarray(w["running_mean"], dtype=np.float64) * scale
        if self.affine and w.get("bias") is not None:
            shift = shift + w["bias"]
        return scale, shift

    def eval_affine(self, x: Shape, w: dict[str, Any]) -> tuple[Any, Any] | None:
        if not self.track_running_stats or self.channel_dim(x) != 1:
            return None
        return self._affine_terms(w)

    def forward_into(self, x: Any, w: dict[str, Any], budget: int, out: Any) -> Any:
        import numpy as np

        cdim = self.channel_dim(x.shape)
        weight = w.get("weight") if self.affine else None
        bias = w.get("bias") if self.affine else None
        if self.track_running_stats:
            # eval mode: a per-channel affine map from the running statistics
            scale, shift = self._affine_terms(w)
            from ..kernels import split_run

            out = np.empty(x.shape, dtype=x.dtype) if out is None else out
            tail = (1,) * (x.ndim - cdim - 1)
            scale = scale.astype(x.dtype).reshape((-1,) + tail)
            shift = shift.astype(x.dtype).reshape((-1,) + tail)
            lead = (slice(None),) * cdim

            def part(chans: slice) -> None:
                # x·scale + shift in two passes over this range of channels
                dst = out[lead + (chans,)]
                np.multiply(x[lead + (chans,)], scale[chans], out=dst)
                dst += shift[chans]

            channels = x.shape[cdim]
            split_run(part, channels, unit=prod(x.shape) // max(channels, 1))
            return out
        out = self._batch_stats_normalise(x, cdim, budget)
        channel_affine(out, cdim, weight, bias)
        return out

    def _batch_stats_normalise(self, x: Any, cdim: int, budget: int) -> Any:
        raise NotImplementedError

    def workspace(self, x: Shape, y: Shape) -> int:
        return 0 if self.track_running_stats else prod(x)


class BatchNormNd(_PerChannelNorm):
    @classmethod
    def example(cls) -> Example:
        return (8,), {}, spatial_example(cls.nd)

    summary = (
        "normalises each channel over (N, *spatial); params 2C (affine), buffers running_mean/var"
    )

    def check(self) -> None:
        super().check()
        # torch's batch_norm: eps ≥ 0 with running statistics, > 0 with the batch's own
        batch = not self.track_running_stats
        if self.eps < 0 or (batch and self.eps == 0):
            raise ShapeError(
                f"eps must be {'positive with batch statistics' if batch else 'non-negative'}, "
                f"got {self.eps:g}",
                argument="eps",
                expected="a positive number" if batch else "a non-negative number",
                got=self.eps,
                hint="the default is 1e-05",
            )

    def channel_dim(self, x: Shape) -> int:
        ranks = (2, 3) if self.nd == 1 else (self.nd + 2,)
        if len(x) not in ranks:
            forms = {
                2: "2D (N, C)",
                3: "3D (N, C, L)",
                4: "4D (N, C, H, W)",
                5: "5D (N, C, D, H, W)",
            }
            want = " or ".join(forms[r] for r in ranks)
            fits = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(
                len(x)
            )
            unbatched = len(x) == self.nd + 1 and self.nd > 1
            raise ShapeError(
                f"expects a {want} input, receives {len(x)}D {fmt_shape(x)}",
                argument="input",
                expected=" or ".join(f"{r}D" for r in ranks),
                got=len(x),
                hint=(
                    "BatchNorm needs a batch dimension: add N = 1 to the input shape"
                    if unbatched
                    else (f"a {len(x)}D input suits {fits}" if fits else None)
                ),
            )
        return 1

    def _stats_size(self, x: Shape, cdim: int) -> int:
        return x[0] * prod(x[2:])

    def _one_value_message(self, x: Shape) -> str:
        return f"batch statistics need more than 1 value per channel, input {fmt_shape(x)} has 1"

    def _batch_stats_normalise(self, x: Any, cdim: int, budget: int) -> Any:
        """track_running_stats=False: torch normalises with the batch's statistics even in eval."""
        import numpy as np

        from ..kernels import item_parts

        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        count = x3.shape[0] * x3.shape[2]
        out = np.empty(x.shape, dtype=x.dtype)
        if count == 0 or c == 0:
            out[...] = x
            return out
        mean = x3.mean(axis=(0, 2))
        mean_b = mean[:, None]
        sq = np.zeros(c, dtype=x.dtype)
        # one temporary: whole items while they fit the budget, else runs of positions
        per_item = x.itemsize * x3.shape[1] * x3.shape[2]
        for part, run in item_parts(n, x3.shape[2], per_item, budget):
            d = x3[part, :, run] - mean_b
            sq += np.einsum("ncl,ncl->c", d, d)
            del d  # before the next piece's: never two at once
        rstd = 1 / np.sqrt(sq / count + self.eps)
        o3 = out.reshape(n, c, -1)
        np.subtract(x3, mean_b, out=o3)
        o3 *= rstd[:, None]
        return out


@register
class SyncBatchNorm(BatchNormNd):
    """BatchNorm across processes when training; at inference BatchNorm on (N, C, *) of any
    rank (the process group only matters for training, and is not read)."""

    @classmethod
    def example(cls) -> Example:
        return (8,), {}, (2, 8, 4, 4)

    summary = "BatchNorm of (N, C, *) of any rank (synchronised across processes when training)"
    IGNORED: ClassVar[tuple[str, ...]] = ("device", "dtype", "process_group")
    ARGS = BatchNormNd._args(True, True)

    def channel_dim(self, x: Shape) -> int:
        hint = "SyncBatchNorm needs a batch dimension: add N = 1 to the input shape"
        require_rank(x, 2, "(N, C, *)", hint)
        return 1


class InstanceNormNd(_PerChannelNorm):
    @classmethod
    def example(cls) -> Example:
        return (8,), {"affine": True}, spatial_example(cls.nd)

    summary = "normalises each channel of each sample over its spatial dims; affine off by default"

    def channel_dim(self, x: Shape) -> int:
        return spatial_input(x, self.nd)[0]

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """At inference it uses each sample's statistics over every position (global), unless
        it tracks running statistics (then a per-channel affine map)."""
        return field if self.track_running_stats else make_global(field)

    def _stats_size(self, x: Shape, cdim: int) -> int:
        return prod(x[cdim + 1 :])

    def _one_value_message(self, x: Shape) -> str:
        return f"instance statistics need more than 1 spatial element, input {fmt_shape(x)} has 1"

    _one_value_hint = (
        "use a larger input, or track_running_stats: true (eval mode then uses running statistics)"
    )

    def _batch_stats_normalise(self, x: Any, cdim: int, budget: int) -> Any:
        """Per sample and channel over the spatial dims (torch uses them whenever not tracking)."""
        import numpy as np

        out = np.empty(x.shape, dtype=x.dtype)
        rows = prod(x.shape[: cdim + 1])
        normalise_rows(x.reshape(rows, -1), out.reshape(rows, -1), self.eps, budget)
        return out


@register
class BatchNorm1d(BatchNormNd):
    nd = 1
    ARGS = BatchNormNd._args(True, True)


@register
class InstanceNorm1d(InstanceNormNd):
    nd = 1
    ARGS = InstanceNormNd._args(False, False)


@register
class BatchNorm2d(BatchNormNd):
    nd = 2
    ARGS = BatchNormNd._args(True, True)


@register
class InstanceNorm2d(InstanceNormNd):
    nd = 2
    ARGS = InstanceNormNd._args(False, False)


@register
class BatchNorm3d(BatchNormNd):
    nd = 3
    ARGS = BatchNormNd._args(True, True)


@register
class InstanceNorm3d(InstanceNormNd):
    nd = 3
    ARGS = InstanceNormNd._args(False, False)


@register
class LazyBatchNorm1d(Lazy, BatchNorm1d):
    summary = "BatchNorm1d with num_features taken from the input"
    ARGS = lazy_args(BatchNorm1d.ARGS)
    num_features = None
    lazy_dim = 1


@register
class LazyInstanceNorm1d(Lazy, InstanceNorm1d):
    summary = "InstanceNorm1d with num_features taken from the input"
    # torch's LazyInstanceNorm defaults to affine=True, track_running_stats=True
    ARGS = lazy_args(InstanceNormNd._args(True, True))
    num_features = None
    lazy_dim = 1


@register
class LazyBatchNorm2d(Lazy, BatchNorm2d):
    summary = "BatchNorm2d with num_features taken from the input"
    ARGS = lazy_args(BatchNorm2d.ARGS)
    num_features = None
    lazy_dim = 1


@register
class LazyInstanceNorm2d(Lazy, InstanceNorm2d):
    summary = "InstanceNorm2d with num_features taken from the input"
    # torch's LazyInstanceNorm defaults to affine=True, track_running_stats=True
    ARGS = lazy_args(InstanceNormNd._args(True, True))
    num_features = None
    lazy_dim = 1


@register
class LazyBatchNorm3d(Lazy, BatchNorm3d):
    summary = "BatchNorm3d with num_features taken from the input"
    ARGS = lazy_args(BatchNorm3d.ARGS)
    num_features = None
    lazy_dim = 1


@register
class LazyInstanceNorm3d(Lazy, InstanceNorm3d):
    summary = "InstanceNorm3d with num_features taken from the input"
    # torch's LazyInstanceNorm defaults to affine=True, track_running_stats=True
    ARGS = lazy_args(InstanceNormNd._args(True, True))
    num_features = None
    lazy_dim = 1
