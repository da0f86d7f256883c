"""The layer contract and the registry.

Each layer type is ONE class that holds every rule about it: its arguments
(PyTorch's names, positional order and defaults), the checks PyTorch makes at
construction and in forward, the output shape, the parameter shapes, the MAC
count and notes. Classes register themselves by their PyTorch name.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import SpecError, number_text
from ..shape import Shape
from .arguments import REQUIRED, Arg, BadValue, beyond_int64, compact, same_value
from .steps import Step, unchanged, weight_sum

#: a layer's documented example: positional arguments, keyword arguments, and the input
#: shape (a merge's: the shapes of its inputs)
Example = tuple[tuple[Any, ...], dict[str, Any], Shape | tuple[Shape, ...]]

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..receptive import ReceptiveField

    #: a float32 or float64 array (numpy is never imported at run time here)
    Array = NDArray[Any]


# ------------------------------------------------------------------ the layer
class Layer:
    """Base class of every layer type.

    Subclasses set ``type_name`` (PyTorch's class name), ``ARGS`` (PyTorch's
    positional order) and ``summary``, and override the rules they need: :meth:`check`,
    :meth:`out_shape`, :meth:`weights`, :meth:`macs` and :meth:`notes`, then :meth:`init`
    and :meth:`forward` for the NumPy forward pass. What a type can do beyond that is
    declared in the class attributes below, which the builder and the runner read as they
    are. Argument values are available as attributes after construction.
    """

    type_name: ClassVar[str] = ""
    ARGS: ClassVar[tuple[Arg, ...]] = ()
    summary: ClassVar[str] = ""
    #: argument names accepted and ignored (they change nothing convcalc reports)
    IGNORED: ClassVar[tuple[str, ...]] = ()

    # -- capabilities, declared ------------------------------------------------
    #: accept any arguments (nn.Identity does)
    accepts_anything: ClassVar[bool] = False
    #: reads several outputs (the merges): its input is the tuple of their shapes (arrays)
    multi_input: ClassVar[bool] = False
    #: torch's eval forward returns its input itself, or a view of it (Identity, Dropout,
    #: Flatten, Unflatten): a later in-place layer changes what both names hold
    SHARES_INPUT: ClassVar[bool] = False
    #: :meth:`forward_into` can write the result over its input (element-wise layers): the
    #: runner then reuses an input no later layer reads instead of a fresh array, whose new
    #: pages cost about as much as the work. A subclass that redefines :meth:`forward` but
    #: not :meth:`forward_into` declares it False again.
    REUSES_INPUT: ClassVar[bool] = False

    #: a multi-input layer's sources, the names of the outputs it reads (set by the builder)
    sources: tuple[str, ...] = ()

    def __init__(self, values: dict[str, Any]) -> None:
        self.args = values
        self.__dict__.update(values)

    # -- construction ------------------------------------------------------
    @classmethod
    def build(cls, positional: Sequence[Any] = (), keywords: dict[str, Any] | None = None) -> Layer:
        """Map PyTorch-style positional and keyword arguments to converted values.

        Raises :class:`SpecError` (with ``argument`` set) for an unknown
        argument, a missing required one or a value of the wrong form.
        """
        if cls.accepts_anything:
            return cls({})
        names = cls._arg_names()
        if len(positional) > len(names):
            raise SpecError(
                f"{cls.type_name} takes at most {len(names)} positional argument"
                f"{'s' if len(names) != 1 else ''} ({', '.join(names) or 'none'}), "
                f"{len(positional)} given",
                hint=f"see `convcalc layers {cls.type_name}` for its arguments",
            )
        # every unknown argument and bad value of the layer is reported, not just the first
        problems: list[SpecError] = []
        given, unknown = cls._given(positional, keywords or {}, problems)
        values = cls._converted(given, unknown, problems)
        if problems:
            raise problems[0].with_others(problems[1:])
        return cls(values)

    @classmethod
    def _given(
        cls, positional: Sequence[Any], keywords: dict[str, Any], problems: list[SpecError]
    ) -> tuple[dict[str, Any], list[str]]:
        """The values written for each argument name, and the unknown names; each keyword
        that is unknown or given twice adds to ``problems``."""
        names = cls._arg_names()
        given: dict[str, Any] = dict(zip(names, positional))
        unknown: list[str] = []
        for key, value in keywords.items():
            if key in given:
                problems.append(SpecError(f"{cls.type_name} got {key} twice", argument=key))
                continue
            if key not in names:
                if key in cls.IGNORED:
                    continue
                unknown.append(key)
                problems.append(
                    SpecError(
                        f"{cls.type_name} has no argument {key!r}",
                        argument=key,
                        hint=did_you_mean(key, list(names) + list(cls.IGNORED))
                        or f"its arguments are: {', '.join(names) or 'none'}",
                    )
                )
                continue
            given[key] = value
        return given, unknown

    @classmethod
    def _converted(
        cls, given: dict[str, Any], unknown: list[str], problems: list[SpecError]
    ) -> dict[str, Any]:
        """Every argument's converted value, written or default; a value of the wrong form or
        a missing required argument adds to ``problems``."""
        defaults: dict[str, Any] | None = None
        values: dict[str, Any] = {}
        for arg in cls.ARGS:
            name = arg.name
            if name in given and not (arg.infer and given[name] is None):  # null: from the input
                huge = beyond_int64(given[name])
                if huge is not None:
                    problems.append(
                        SpecError(
                            f"{cls.type_name} argument {name}: {number_text(huge)} is beyond torch's 64-bit "
                            "integers",
                            argument=name,
                            expected="an integer within ±2**63",
                            got=given[name],
                        )
                    )
                    continue
                try:
                    values[name] = arg.convert(given[name])
                except BadValue as bad:
                    problems.append(
                        SpecError(
                            f"{cls.type_name} argument {name} must be {bad.expected}, "
                            f"got {given[name]!r}",
                            argument=name,
                            expected=bad.expected,
                            got=given[name],
                        )
                    )
            elif arg.default is REQUIRED and not arg.infer:
                if any(did_you_mean(key, [name]) for key in unknown):
                    continue  # a misspelling of it is reported already, with the right name
                problems.append(
                    SpecError(
                        f"{cls.type_name} needs {name}",
                        argument=name,
                        hint=f"add {name}: <{arg.form}>",
                    )
                )
            else:
                if defaults is None:
                    defaults = cls._defaults()
                values[name] = defaults[name]
        return values

    @classmethod
    def _arg_names(cls) -> tuple[str, ...]:
        """The argument names in positional order, computed once per class."""
        return _arg_names(cls.ARGS)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Converted default values, computed once per class."""
        return _defaults(cls.ARGS)

    @classmethod
    def example(cls) -> Example:
        """Positional arguments, keyword arguments and an input shape that show the layer at work."""
        return (), {}, (1, 8, 6, 6)

    def check(self) -> None:
        """Rules PyTorch enforces when the module is constructed."""

    def inferred_args(self) -> tuple[str, ...]:
        """The arguments this layer takes from its input's shape: those it may leave out
        (``infer``) and did, or wrote as null (``in_channels`` of a Conv2d)."""
        return tuple(a.name for a in self.ARGS if a.infer and self.args.get(a.name) is None)

    def inferred_values(self, x: Shape) -> dict[str, Any]:
        """The value of each argument that may come from the input (``infer``), for the input
        ``x``: the written one, or the one the layer takes from ``x`` (an export writes it
        out). Overridden by the types that have such an argument."""
        return {}

    def resolved_args(self, x: Shape | None = None) -> dict[str, Any]:
        """Every argument as the layer uses it: the written value or the default, an argument
        taken from the input filled in for the input ``x``, and a default that stands for
        another argument's value spelled out (a pooling's stride). Two layers that compute the
        same thing have the same resolved arguments, however they were written."""
        values = dict(self.args)
        if x is not None:
            for name, value in self.inferred_values(x).items():
                if values.get(name) is None:
                    values[name] = value
        return values

    # -- propagation -------------------------------------------------------
    def out_shape(self, x: Shape) -> Shape:
        """The output shape for input ``x``; raises :class:`ShapeError`."""
        return x

    def receptive_field(self, x: Shape, y: Shape, field: ReceptiveField) -> ReceptiveField | None:
        """The receptive field of the output (``y``) given the input's (``field``; see
        receptive.py): an element-wise layer, an activation or a norm over the channels keeps
        it. None where the output has no spatial layout."""
        return field

    def weights(self, x: Shape | None) -> dict[str, Shape] | None:
        """Parameter shapes by state_dict key suffix ("weight", "bias").

        ``x`` is None when the input shape is unknown; return None if the
        shapes depend on it (an inferred in_channels, say).
        """
        return {}

    def buffers(self, x: Shape | None) -> dict[str, Shape] | None:
        """Buffer shapes (running statistics): in the state_dict, not parameters."""
        return {}

    def macs(self, x: Shape, y: Shape) -> int:
        """Multiply-accumulates, bias excluded (torch.utils.flop_counter / 2)."""
        return 0

    def explain(self, x: Shape) -> Iterator[Step]:
        """The output shape, the parameters and the MACs computed step by step with the
        numbers written in (see steps.py), each result as :meth:`out_shape`, :meth:`weights`
        and :meth:`macs` give it; a rule that fails raises its error where it fails, after
        the steps before it. The default is an element-wise layer's: the shape is unchanged,
        and the parameters are the sum of the weight arrays'."""
        y = self.out_shape(x)
        yield unchanged(x, y)
        yield from weight_sum(self.weights(x) or {})

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return []

    # -- NumPy forward pass -----------------------------------------------
    # numpy is imported inside these methods, never at module level: `convcalc shape`
    # must not pay for it.
    def init(self, x: Shape, rng: Any) -> dict[str, Array]:
        """Parameters and buffers by state_dict suffix, drawn from PyTorch's default
        initialisation distributions (``reset_parameters``) with ``rng``, a
        ``numpy.random.Generator`` or an object with the same ``uniform`` (the runner's draws
        float32); the runner casts the arrays to the run's dtype."""
        if self.weights(x) or self.buffers(x):
            raise NotImplementedError(f"{self.type_name} has parameters but no init()")
        return {}

    def mutates_input(self) -> bool:
        """torch writes this layer's result over its input (an activation with inplace=True):
        every name that shares that tensor then holds the result (the runner rebinds them)."""
        return False

    def forward(self, x: Any, w: dict[str, Array], budget: int) -> Array:
        """The eval-mode output for ``x`` (a float32 or float64 ndarray, dtype kept; for a
        ``multi_input`` layer, the list of its inputs) given the parameters and buffers
        ``w`` (keys as in :meth:`weights` and :meth:`buffers`). Temporaries beyond the
        output should stay under ``budget`` bytes: chunk if needed."""
        raise NotImplementedError(f"{self.type_name} has no NumPy kernel yet")

    def forward_into(self, x: Any, w: dict[str, Array], budget: int, out: Any) -> Array:
        """REUSES_INPUT layers: :meth:`forward` writing into ``out`` (``x`` itself: contiguous,
        of the output's shape and dtype), which it returns."""
        raise NotImplementedError(f"{self.type_name} cannot write over its input")

    def window(self, x: Any, y: Shape) -> int:
        """For a layer without MACs: the input elements that each output element is computed
        from (a pooling window's; 1 for an element-wise layer), so that the work a run asks
        for is counted before it starts (see :func:`convcalc.budget.work`)."""
        return 1

    def tap_passes(self, x: Any, y: Shape) -> int:
        """For a layer computed tap by tap: the elements its per-tap products read and write
        (for every tap, the whole grid, in and out channels), which cost more than its MACs
        where a group has few channels (see :func:`convcalc.budget.work`)."""
        return 0

    def workspace(self, x: Shape, y: Shape) -> int:
        """Peak temporary elements an unchunked forward would allocate beyond its output
        (the runner reports it, and tells the kernel its budget)."""
        return 0

    # -- inference folding (the runner's: see forward.fold_affines) --------------------
    def eval_affine(self, x: Shape, w: dict[str, Array]) -> tuple[Array, Array] | None:
        """For a layer that is, at inference, a per-channel affine map along axis 1 of ``x``
        (eval BatchNorm with running statistics): ``(scale, shift)`` as float64 vectors, the
        output being x·scale + shift. None for every other layer."""
        return None

    def absorb_affine(
        self, y: Shape, w: dict[str, Array], scale: Array, shift: Array
    ) -> dict[str, Array] | None:
        """Parameters with which this layer computes its output (of shape ``y``) times
        ``scale`` plus ``shift`` per channel of axis 1 (a convolution's, a transposed
        convolution's, a Linear's on (N, features): weight·scale and bias·scale + shift),
        so that a following :meth:`eval_affine` layer has nothing left to do. None: this
        layer cannot."""
        return None

    # -- diagnosis ---------------------------------------------------------
    def origin(self, x: Shape, y: Shape, dim: int) -> str | None:
        """How dimension ``dim`` of this layer's output came about, for error messages."""
        return None

    def resize_hint(self, x: Shape, y: Shape, dim: int, wanted: int, label: str) -> str | None:
        """How to change this layer (``label``, e.g. "layer 1 'conv1'") so that ``y[dim] == wanted``."""
        return None

    def parts(self, x: Any, dim: int) -> tuple[int, ...] | None:
        """For a layer whose output size along ``dim`` is the sum of its inputs' (Concat along
        its dim): each input's part, in order, so that a diagnosis can change the last one.
        None for every other layer."""
        return None

    def sets_dim(self, x: Shape, y: Shape, dim: int) -> bool:
        """True when an argument of this layer fixes ``y[dim]`` (a convolution's out_channels),
        even where it equals ``x[dim]``: a diagnosis names this layer as the one that
        produced that size, rather than looking further up."""
        return False

    # -- description -------------------------------------------------------
    def call_string(self) -> str:
        """The layer as a PyTorch constructor call, non-default arguments only."""
        parts = []
        for arg in self.ARGS:
            value = self.args.get(arg.name)
            if value is None and arg.default is REQUIRED:
                continue
            if arg.default is not REQUIRED and same_value(value, arg.default):
                continue
            parts.append(f"{arg.name}={compact(value)}")
        return f"{self.type_name}({', '.join(parts)})"


@functools.cache
def _arg_names(args: tuple[Arg, ...]) -> tuple[str, ...]:
    return tuple(a.name for a in args)


@functools.cache
def _defaults(args: tuple[Arg, ...]) -> dict[str, Any]:
    """(a dict shared by every layer of the type: copied, never changed)"""
    return {a.name: None if a.default is REQUIRED else a.convert(a.default) for a in args}


# ---------------------------------------------------------------- the registry
REGISTRY: dict[str, type[Layer]] = {}


def scaled_outputs(
    w: dict[str, Array], weight: Array, scale: Array, shift: Array
) -> dict[str, Array]:
    """A layer's parameters ``w`` with the output channels scaled (``weight``, already
    multiplied by ``scale`` per output channel) and the bias ``bias·scale + shift`` (``shift``
    alone when there is none): the common end of :meth:`Layer.absorb_affine`."""
    import numpy as np

    bias = w.get("bias")
    folded = shift if bias is None else bias * scale + shift
    return {**w, "weight": weight, "bias": np.asarray(folded).astype(weight.dtype)}


def register(cls: type[Layer]) -> type[Layer]:
    if "type_name" not in vars(cls):  # a class's own name, not the one it inherits
        cls.type_name = cls.__name__
    if cls.type_name in REGISTRY:
        raise RuntimeError(f"layer type {cls.type_name} registered twice")
    REGISTRY[cls.type_name] = cls
    return cls


class Lazy(Layer):
    """torch's ``Lazy<Type>``, written ``class LazyConv2d(Lazy, Conv2d)``: the layer it is
    listed before, without its inferred argument (in_channels, in_features, num_features),
    which always comes from the input. Each sets its ``ARGS`` with :func:`lazy_args`, its
    ``summary``, and the inferred argument to None."""

    @classmethod
    def example(cls) -> Example:
        positional, keywords, x = super().example()
        inferred = sum(1 for a in super().ARGS if a.infer)  # the arguments Lazy drops
        return positional[inferred:], keywords, x

    def inferred_args(self) -> tuple[str, ...]:
        return tuple(a.name for a in super().ARGS if a.infer)  # always: it has no such argument


def lazy_args(args: Sequence[Arg]) -> tuple[Arg, ...]:
    """A layer's arguments without those taken from the input: its Lazy variant's."""
    return tuple(a for a in args if not a.infer)


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    import difflib  # only on an error: keeps it (and heapq) out of every start-up

    lower = {c.lower(): c for c in candidates}
    if word.lower() in lower:
        return f"did you mean {lower[word.lower()]}?"
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not close:
        close = [
            lower[c] for c in difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
        ]
    return f"did you mean {close[0]}?" if close else None


def lookup(type_name: str) -> type[Layer]:
    try:
        return REGISTRY[type_name]
    except KeyError:
        raise SpecError(
            f"unknown layer type {type_name!r}",
            argument="type",
            got=type_name,
            hint=did_you_mean(type_name, list(REGISTRY))
            or "`convcalc layers` lists the supported types",
        ) from None
