"""``--batch-for 16GiB``: the largest batch whose memory fits a budget.

Inference needs the parameters, the buffers and the peak of an eager pass; training needs
the parameters, the buffers, a gradient of each trainable parameter and the optimizer's
state (SGD none, momentum one copy, Adam two), and every activation (kept for the backward
pass). Parameters and buffers do not grow with the batch; activations grow in proportion to
it, so the need is ``fixed + batch × per_item``: both are read from the analyses at batch 1
and 2, and the answer is checked by analysing the model at that batch and the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ShapeError, SpecError

if TYPE_CHECKING:
    from .model import Spec
    from .report import Report
    from .shape import Shape

#: copies of the trainable parameters an optimizer keeps besides their gradients
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}
#: the largest batch looked for (a budget that fits more is as good as unbounded)
MOST = 1 << 40


@dataclass(frozen=True)
class BatchFit:
    budget: int
    training: bool
    optimizer: str
    dtype: str
    #: the largest batch that fits (0: not even one)
    batch: int
    #: the bytes it needs, by part (params, buffers, gradients, optimizer, activations or peak)
    parts: tuple[tuple[str, int], ...]
    #: what one more would need (None: the batch is unbounded or at MOST)
    next_need: int | None

    @property
    def need(self) -> int:
        return sum(n for _, n in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "mode": "training" if self.training else "inference",
            "optimizer": self.optimizer if self.training else None,
            "dtype": self.dtype,
            "batch": self.batch,
            "bytes": self.need,
            "parts": dict(self.parts),
            "next_bytes": self.next_need,
        }


def _parts(report: Report, training: bool, optimizer: str) -> list[tuple[str, int]]:
    from .liveness import DTYPE_BYTES

    memory = report.memory
    if memory is None or memory.param_bytes is None or memory.buffer_bytes is None:
        raise ShapeError(
            "the memory a batch needs is unknown: a size depends on a shape not reached"
        )
    parts = [("params", memory.param_bytes), ("buffers", memory.buffer_bytes)]
    if training:
        trainable = (report.totals.trainable_params or 0) * DTYPE_BYTES[memory.dtype]
        parts += [("gradients", trainable), ("optimizer", trainable * OPTIMIZER_STATE[optimizer])]
        parts.append(("activations", memory.activation_bytes or 0))
    else:
        parts.append(("peak", memory.peak_bytes or 0))
    return parts


class _Needs:
    """The bytes a batch needs, each batch analysed once."""

    def __init__(
        self, spec: Spec, shape: Shape, dtype: str, training: bool, optimizer: str
    ) -> None:
        self.spec, self.shape, self.dtype = spec, shape, dtype
        self.training, self.optimizer = training, optimizer
        self.seen: dict[int, list[tuple[str, int]]] = {}

    def parts(self, batch: int) -> list[tuple[str, int]]:
        if batch not in self.seen:
            from .analysis import analyze

            report = analyze(
                self.spec,
                (batch, *self.shape[1:]),
                size_hints=False,
                dtype=self.dtype,
                receptive_fields=False,
            )
            if not report.ok:
                raise ShapeError(
                    f"at batch {batch:,} the model fails: {report.errors[0].message}",
                    hint="--batch-for needs a model that works at every batch",
                )
            self.seen[batch] = _parts(report, self.training, self.optimizer)
        return self.seen[batch]

    def __call__(self, batch: int) -> int:
        return sum(n for _, n in self.parts(batch))


def largest_batch(
    spec: Spec,
    input_shape: Shape,
    budget: int,
    *,
    dtype: str = "float32",
    training: bool = False,
    optimizer: str = "adam",
) -> BatchFit:
    """The largest batch (the input's first dimension) whose memory fits ``budget`` bytes."""
    if optimizer not in OPTIMIZER_STATE:
        raise SpecError(f"optimizer {optimizer!r} is none of {', '.join(OPTIMIZER_STATE)}")
    if not input_shape:
        raise SpecError("--batch-for needs an input shape with a batch dimension")
    need = _Needs(spec, input_shape, dtype, training, optimizer)
    per = need(2) - need(1)
    fixed = need(1) - per
    guess = MOST if per <= 0 else max(1, min(MOST, (budget - fixed) // per))
    # the line is exact for the usual layers; where it is not, a search from the guess
    if need(guess) <= budget:
        low, high = guess, MOST + 1
        if guess < MOST and need(guess + 1) > budget:
            high = guess + 1
    else:
        low, high = 0, guess
    while high - low > 1:  # need(low) fits (or low is 0), need(high) does not
        mid = (low + high) // 2
        if need(mid) <= budget:
            low = mid
        else:
            high = mid
    if low == 0:
        return BatchFit(budget, training, optimizer, dtype, 0, tuple(need.parts(1)), need(1))
    following = None if low >= MOST else need(low + 1)
    return BatchFit(budget, training, optimizer, dtype, low, tuple(need.parts(low)), following)


__all__ = ["OPTIMIZER_STATE", "BatchFit", "largest_batch"]
