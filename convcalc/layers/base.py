"""The layer contract, argument conversion and the registry.

Each layer type is ONE class that holds every rule about it: its arguments
(PyTorch's names, positional order and defaults), the checks PyTorch makes at
construction and in forward, the output shape, the parameter shapes, the MAC
count and notes. Classes register themselves by their PyTorch name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..errors import ShapeError, SpecError, number_text
from ..shape import AXES, Shape, fmt_shape

REQUIRED: Any = type("REQUIRED", (), {"__repr__": lambda self: "required"})()


class BadValue(Exception):
    """Raised by a converter: the value is not of the form the argument takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


Converter = Callable[[Any], Any]


class Arg:
    """One constructor argument: PyTorch's name, a converter, the default."""

    __slots__ = ("name", "convert", "default", "infer", "form")

    def __init__(
        self,
        name: str,
        convert: Converter,
        default: Any = REQUIRED,
        *,
        infer: bool = False,
        form: str = "",
    ) -> None:
        self.name = name
        self.convert = convert
        self.default = default
        #: may be omitted: taken from the incoming shape, as PyTorch's Lazy modules do
        self.infer = infer
        #: how the value is written, for `convcalc layers`
        self.form = form or getattr(convert, "form", "")

    def describe_default(self) -> str:
        if self.default is REQUIRED:
            return "from input" if self.infer else "required"
        return repr(self.default)


# ----------------------------------------------------------------- converters
def is_int(v: Any) -> bool:
    """An int and not a bool (YAML's true is an int to Python)."""
    return type(v) is int or (isinstance(v, int) and not isinstance(v, bool))


#: torch takes integer arguments as 64-bit ("Overflow when unpacking long long" beyond)
INT64_LIMIT = 1 << 63


def beyond_int64(v: Any) -> int | None:
    """The first integer in ``v`` (or its lists) that 64 bits cannot hold, else None."""
    if is_int(v):
        return v if not -INT64_LIMIT <= v < INT64_LIMIT else None
    if isinstance(v, (list, tuple)):
        for item in v:  # a plain loop: this runs for every argument of every layer
            huge = beyond_int64(item)
            if huge is not None:
                return huge
    return None


def converter_form(text: str) -> Callable[[Converter], Converter]:
    """Label a converter with the form it accepts ("int or (int, int)"), for error messages
    and the layer reference; converters in every layer module use it."""

    def wrap(fn: Converter) -> Converter:
        fn.form = text  # type: ignore[attr-defined]
        return fn

    return wrap


@converter_form("int")
def to_int(v: Any) -> int:
    if not is_int(v):
        raise BadValue("an integer")
    return int(v)


@converter_form("int or None")
def to_opt_int(v: Any) -> int | None:
    return None if v is None else to_int(v)


@converter_form("bool")
def to_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise BadValue("true or false")
    return v


@converter_form("float")
def to_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadValue("a number")
    return float(v)


@converter_form("float or None")
def to_opt_float(v: Any) -> float | None:
    return None if v is None else to_float(v)


class Repeated(tuple):
    """Per-axis values written as a list of one, repeated to every axis as torch's
    convolution and pooling kernels do (the few places that refuse that form check for it)."""


def refuse_repeated(name: str, value: Any, n: int, why: str) -> None:
    """Where torch takes ``name`` as written (``why``), a list of one is not one value per
    axis of the ``n``: a ShapeError."""
    if isinstance(value, Repeated) and n > 1:
        raise ShapeError(
            f"{name} must be an integer or a list of {n} ({why}), got {[value[0]]}",
            argument=name,
            expected=f"an integer or a list of {n}",
            got=[value[0]],
            hint=f"write {name}={value[0]}",
        )


def to_ints(n: int, allow_none: bool = False, repeat: bool = False) -> Converter:
    """An int, or a list/tuple of ``n`` ints, returned as an ``n``-tuple; with ``repeat``, a
    list of one too (a :class:`Repeated`), as torch's convolutions take stride & co."""
    what = "an integer" if n == 1 else f"an integer or a list of {n} integers"
    if repeat and n > 1:
        what += " (or of one)"

    @converter_form("int" if n == 1 else f"int or ({', '.join(['int'] * n)})")
    def convert(v: Any) -> Any:
        if v is None and allow_none:
            return None
        if is_int(v):
            return (int(v),) * n
        if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
            if len(v) == n:
                return tuple(int(i) for i in v)
            if repeat and len(v) == 1:
                return Repeated((int(v[0]),) * n)
        raise BadValue(what)

    if allow_none:
        convert.form += " or None"  # type: ignore[attr-defined]
    return convert


def to_choice(*choices: Any) -> Converter:
    @converter_form(" | ".join(repr(c) for c in choices))
    def convert(v: Any) -> Any:
        if v not in choices or isinstance(v, bool) != any(
            isinstance(c, bool) for c in choices if c == v
        ):
            raise BadValue("one of " + ", ".join(repr(c) for c in choices))
        return v

    return convert


@converter_form("int or list of int")
def to_int_list(v: Any) -> tuple[int, ...]:
    if is_int(v):
        return (int(v),)
    if isinstance(v, (list, tuple)) and all(is_int(i) for i in v):
        return tuple(int(i) for i in v)
    raise BadValue("an integer or a list of integers")


# ------------------------------------------------------------------ the layer
class Layer:
    """Base class of every layer type.

    Subclasses set ``type_name`` (PyTorch's class name), ``ARGS`` (PyTorch's
    positional order) and ``summary``, and override the rules they need.
    Argument values are available as attributes after construction.
    """

    type_name: ClassVar[str] = ""
    ARGS: ClassVar[tuple[Arg, ...]] = ()
    summary: ClassVar[str] = ""
    #: argument names accepted and ignored (they change nothing convcalc reports)
    IGNORED: ClassVar[tuple[str, ...]] = ()
    #: accept any arguments (nn.Identity does)
    accepts_anything: ClassVar[bool] = False
    #: reads several outputs (the merges): its input is the tuple of their shapes (arrays)
    multi_input: ClassVar[bool] = False
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
        given: dict[str, Any] = dict(zip(names, positional))
        # every unknown argument and bad value of the layer is reported, not just the first
        problems: list[SpecError] = []
        unknown: list[str] = []
        if keywords:
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
        if problems:
            raise problems[0].with_others(problems[1:])
        return cls(values)

    @classmethod
    def _arg_names(cls) -> tuple[str, ...]:
        """The argument names in positional order, computed once per class."""
        cached = cls.__dict__.get("_cached_arg_names")
        if cached is None:
            cached = tuple(a.name for a in cls.ARGS)
            cls._cached_arg_names = cached  # type: ignore[attr-defined]
        return cached

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Converted default values, computed once per class."""
        cached = cls.__dict__.get("_converted_defaults")
        if cached is None:
            cached = {
                a.name: None if a.default is REQUIRED else a.convert(a.default) for a in cls.ARGS
            }
            cls._converted_defaults = cached  # type: ignore[attr-defined]
        return cached

    @classmethod
    def example(cls) -> tuple[tuple[Any, ...], dict[str, Any], Shape]:
        """Positional arguments, keyword arguments and an input shape that show the layer at work."""
        return (), {}, (1, 8, 6, 6)

    def check(self) -> None:
        """Rules PyTorch enforces when the module is constructed."""

    # -- propagation -------------------------------------------------------
    def out_shape(self, x: Shape) -> Shape:
        """The output shape for input ``x``; raises :class:`ShapeError`."""
        return x

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

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return []

    # -- NumPy forward pass -----------------------------------------------
    # numpy is imported inside these methods, never at module level: `convcalc shape`
    # must not pay for it.
    def init(self, x: Shape, rng: Any) -> dict[str, Any]:
        """Parameters and buffers by state_dict suffix, drawn from PyTorch's default
        initialisation distributions (``reset_parameters``) with ``rng``, a
        ``numpy.random.Generator`` or an object with the same ``uniform`` (the runner's draws
        float32); the runner casts the arrays to the run's dtype."""
        if self.weights(x) or self.buffers(x):
            raise NotImplementedError(f"{self.type_name} has parameters but no init()")
        return {}

    #: torch's eval forward returns its input itself, or a view of it (Identity, Dropout,
    #: Flatten, Unflatten): a later in-place layer changes what both names hold
    SHARES_INPUT: ClassVar[bool] = False

    def mutates_input(self) -> bool:
        """torch writes this layer's result over its input (an activation with inplace=True):
        every name that shares that tensor then holds the result (the runner rebinds them)."""
        return False

    #: :meth:`forward_into` can write the result over its input (element-wise layers): the
    #: runner then reuses an input no later layer reads instead of a fresh array, whose new
    #: pages cost about as much as the work. A subclass that redefines :meth:`forward`
    #: does not inherit it.
    REUSES_INPUT: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls) and "REUSES_INPUT" not in vars(cls):
            cls.REUSES_INPUT = False

    def forward(self, x: Any, w: dict[str, Any], budget: int) -> Any:
        """The eval-mode output for ``x`` (a float32 or float64 ndarray, dtype kept) given
        the parameters and buffers ``w`` (keys as in :meth:`weights` and :meth:`buffers`).
        Temporaries beyond the output should stay under ``budget`` bytes: chunk if needed."""
        raise NotImplementedError(f"{self.type_name} has no NumPy kernel yet")

    def forward_into(self, x: Any, w: dict[str, Any], budget: int, out: Any) -> Any:
        """REUSES_INPUT layers: :meth:`forward` writing into ``out`` (``x`` itself: contiguous,
        of the output's shape and dtype), which it returns."""
        raise NotImplementedError(f"{self.type_name} cannot write over its input")

    def workspace(self, x: Shape, y: Shape) -> int:
        """Peak temporary elements an unchunked forward would allocate beyond its output
        (the runner reports it, and tells the kernel its budget)."""
        return 0

    # -- inference folding (the runner's: see forward.fold_affines) --------------------
    def eval_affine(self, x: Shape, w: dict[str, Any]) -> tuple[Any, Any] | None:
        """For a layer that is, at inference, a per-channel affine map along axis 1 of ``x``
        (eval BatchNorm with running statistics): ``(scale, shift)`` as float64 vectors, the
        output being x·scale + shift. None for every other layer."""
        return None

    def absorb_affine(
        self, y: Shape, w: dict[str, Any], scale: Any, shift: Any
    ) -> dict[str, Any] | None:
        """Parameters with which this layer computes its output (of shape ``y``) times
        ``scale`` plus ``shift`` per channel of axis 1 (a convolution's, a transposed
        convolution's, a Linear's on (N, features): weight·scale and bias·scale + shift), so that a following :meth:`eval_affine` layer has nothing left
        to do. None: this layer cannot."""
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
            if arg.default is not REQUIRED and _same(value, arg.default):
                continue
            parts.append(f"{arg.name}={_compact(value)}")
        return f"{self.type_name}({', '.join(parts)})"


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, tuple) and not isinstance(default, tuple):
        return all(v == default for v in value)
    return bool(value == default)


def _compact(value: Any) -> str:
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return repr(value[0])
    return repr(value)


# ---------------------------------------------------------------- the registry
REGISTRY: dict[str, type[Layer]] = {}


def scaled_outputs(w: dict[str, Any], weight: Any, scale: Any, shift: Any) -> dict[str, Any]:
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
    def example(cls) -> tuple[tuple[Any, ...], dict[str, Any], Shape]:
        positional, keywords, x = super().example()
        inferred = sum(1 for a in super().ARGS if a.infer)  # the arguments Lazy drops
        return positional[inferred:], keywords, x


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


# ------------------------------------------------------------ shared helpers
def spatial_input(x: Shape, nd: int, what: str = "input") -> tuple[int, Shape]:
    """Check that ``x`` is (C, *spatial) or (N, C, *spatial) with ``nd`` spatial dims.

    Returns the channel dimension's index and the spatial sizes.
    """
    if len(x) not in (nd + 1, nd + 2):
        axes = ", ".join(AXES[nd])
        fits = [d for d in (1, 2, 3) if len(x) in (d + 1, d + 2)]
        raise ShapeError(
            f"expects a {nd + 1}D (C, {axes}) or {nd + 2}D (N, C, {axes}) {what}, "
            f"receives {len(x)}D {fmt_shape(x)}",
            argument="input",
            expected=f"{nd + 1}D or {nd + 2}D",
            got=len(x),
            hint=(f"a {len(x)}D input suits the {fits[-1]}d layer types" if fits else None),
        )
    return len(x) - nd - 1, x[len(x) - nd :]


def rank_error(text: str, x: Shape, expected: str, hint: str | None = None) -> ShapeError:
    """``<text>, receives 2D (4, 5)``: an input of the wrong rank."""
    return ShapeError(
        f"{text}, receives {len(x)}D {fmt_shape(x)}",
        argument="input",
        expected=expected,
        got=len(x),
        hint=hint,
    )


def require_rank(x: Shape, minimum: int, layout: str, hint: str | None = None) -> None:
    """``expects an input of at least 3 dimensions (N, C, *), receives 2D (4, 5)``."""
    if len(x) < minimum:
        plural = "dimension" if minimum == 1 else "dimensions"
        raise rank_error(
            f"expects an input of at least {minimum} {plural} {layout}",
            x,
            f"at least {minimum}D",
            hint,
        )


def spatial_example(nd: int, channels: int = 8, size: int = 6) -> Shape:
    """(1, 8, 6, …): an input shape for a layer's documented example."""
    return (1, channels) + (size,) * nd


def batch_size(x: Shape, channel_dim: int) -> int:
    return x[0] if channel_dim == 1 else 1


def check_positive(name: str, values: int | tuple[int, ...], what: str, minimum: int = 1) -> None:
    """``stride must be positive, got 0``: for one value or a tuple of them."""
    for v in values if isinstance(values, tuple) else (values,):  # a plain loop: runs per layer
        if v < minimum:
            raise ShapeError(
                f"{name} must be {what}, got {_compact(values)}",
                argument=name,
                expected=what,
                got=values,
            )


_UNITS = {
    "L": ("element", "elements"),
    "D": ("plane", "planes"),
    "H": ("row", "rows"),
    "W": ("column", "columns"),
}


def floor_note(
    axes: Sequence[str],
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    total_pad: Sequence[int],
    dilation: Sequence[int],
) -> str | None:
    """A note when the size formula does not divide exactly and trailing input is never reached.

    ``H, W: 3.5 → 3: the last row and column are not covered``
    """
    lost = []
    for axis, n, k, s, t, d in zip(axes, sizes, kernel, stride, total_pad, dilation):
        span = n + t - d * (k - 1) - 1
        if span >= 0 and span % s:
            lost.append((axis, span / s + 1, span // s + 1, span % s))
    if not lost:
        return None
    if len({(e, f) for _, e, f, _ in lost}) == 1:
        head = f"{', '.join(a for a, *_ in lost)}: {lost[0][1]:g} → {lost[0][2]}"
    else:
        head = "; ".join(f"{a}: {e:g} → {f}" for a, e, f, _ in lost)
    what = " and ".join(_UNITS[a][0] if r == 1 else f"{r} {_UNITS[a][1]}" for a, _, _, r in lost)
    verb = "is" if len(lost) == 1 and lost[0][3] == 1 else "are"
    return f"{head}: the last {what} {verb} not covered"
