"""A convcalc Spec replayed in PyTorch: the same layers as torch modules, the same graph.

For tests and benchmarks only (torch is never a dependency of convcalc). Each
layer becomes ``torch.nn.<type>(**args)``; an argument left out to be inferred
is filled from the layer's input, as PyTorch's Lazy modules would; merges
become torch.add / torch.mul / torch.cat.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from oracle_cases import INFERRED, Shape

from convcalc.model import INPUT, LayerSpec, Spec

#: merge type → the torch function it stands for (the oracle for merges)
TORCH_OPS = {"Add": "add", "Mul": "mul", "Concat": "cat"}
MERGES = tuple(TORCH_OPS)

#: (ok, output shape, params, MACs, error detail)
Outcome = tuple[bool, Shape | None, int | None, int | None, str]


def torch_module(torch: Any, entry: LayerSpec, input_shape: tuple[int, ...]) -> Any:
    """``torch.nn.<type>(**args)`` for one layer, an inferred in_channels & co. taken from its input."""
    kwargs = {
        k: (list(v) if isinstance(v, tuple) and k == "unflattened_size" else v)
        for k, v in entry.layer.args.items()
    }
    if entry.type in INFERRED:
        arg, channel = INFERRED[entry.type]
        if kwargs.get(arg) is None:
            kwargs[arg] = channel(input_shape)
    return getattr(torch.nn, entry.type)(**kwargs).eval()


def merge(torch: Any, entry: LayerSpec, xs: list[Any]) -> Any:
    """A merge layer as the torch operation it stands for."""
    if entry.type == "Concat":
        return torch.cat(xs, dim=entry.layer.dim)
    y = xs[0]
    for more in xs[1:]:
        y = y + more if entry.type == "Add" else y * more
    return y


class TorchModel:
    """``model(x)`` runs the spec in torch; ``state_dict()`` has convcalc's weight keys."""

    def __init__(
        self, torch: Any, spec: Spec, input_shape: tuple[int, ...], dtype: Any = None
    ) -> None:
        from convcalc import analyze

        self.torch = torch
        self.spec = spec
        report = analyze(spec, input_shape)
        assert report.ok, report.errors
        self.modules: dict[str, Any] = {}
        for entry, row in zip(spec.layers, report.rows):
            if entry.type in MERGES:
                continue
            module = torch_module(torch, entry, row.input_shape)
            self.modules[entry.name] = module.to(dtype) if dtype is not None else module

    def __call__(self, x: Any) -> Any:
        torch = self.torch
        values = {INPUT: x}
        for entry in self.spec.layers:
            xs = [values[name] for name in entry.inputs]
            y = merge(torch, entry, xs) if entry.type in MERGES else self.modules[entry.name](xs[0])
            values[entry.name] = y
        return values[self.spec.layers[-1].name]

    def state_dict(self) -> dict[str, Any]:
        return {
            f"{name}.{key}": value.detach().cpu().numpy()
            for name, module in self.modules.items()
            for key, value in module.state_dict().items()
        }


def with_batchnorm_statistics(torch: Any, model: Any) -> Any:
    """``model`` in eval mode, every batch norm given non-trivial statistics and affine
    parameters (from torch's current seed), so that every buffer of its state_dict matters."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(n))
            module.running_var.copy_(0.5 + torch.rand(n))
            module.weight.data.copy_(0.5 + torch.rand(n))
            module.bias.data.copy_(0.1 * torch.randn(n))
    return model.eval()


def parse_call_text(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """The call string read independently of convcalc's parser (the oracle's own reading)."""
    node = ast.parse(text.strip(), mode="eval").body
    assert isinstance(node, ast.Call), text
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id  # type: ignore[attr-defined]
    args = [ast.literal_eval(a) for a in node.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    return name, args, kwargs


def torch_layer(torch: Any, text: str, x: Shape) -> Any:
    """``torch.nn.<type>`` built from ``text``; an omitted in_channels & co. comes from ``x``."""
    name, args, kwargs = parse_call_text(text)
    if name in INFERRED:
        arg, channel = INFERRED[name]
        if not args and arg not in kwargs:
            kwargs[arg] = channel(x)
    return getattr(torch.nn, name)(*args, **kwargs)


def counted(torch: Any, modules: Sequence[Any], x: Shape) -> Outcome:
    """Run ``modules`` in order on a random tensor of shape ``x``."""
    from torch.utils.flop_counter import FlopCounterMode

    def run(t: Any) -> Any:
        for m in modules:
            m.eval()
            t = m(t)
            if isinstance(t, tuple):  # return_indices=True
                t = t[0]
        return t

    t = torch.randn(*x)
    # oneDNN (mkldnn) lets a transposed convolution produce a size-0 output (and fails with
    # "could not construct a memory descriptor" below that); PyTorch's own kernels reject
    # both ("Output size is too small"), as convcalc does: they are the reference.
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        # the verdict comes from a plain run: under FlopCounterMode some operations are
        # decomposed and skip their checks (Upsample to a size-0 output "works" there)
        y = run(t)
        with FlopCounterMode(display=False) as counter:
            run(t)
    # after a forward pass: Lazy modules have their parameters only then
    params = sum(p.numel() for m in modules for p in m.parameters())
    return True, tuple(y.shape), params, counter.get_total_flops() // 2, ""


def import_torchvision(torch: Any) -> Any:
    """torchvision, or a skip. Its compiled operators (detection's nms & co.) are built for
    one torch; when they do not load in this one (a wheel built for another torch), the rest
    of it, its models included (plain Python), is imported without them."""
    import sys

    import pytest

    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision is not installed")
    except RuntimeError:  # its operators are not this torch's
        for name in [n for n in sys.modules if n.startswith("torchvision")]:
            del sys.modules[name]
        register_fake = torch.library.register_fake
        torch.library.register_fake = lambda *a, **k: lambda fn: fn
        try:
            import torchvision
        except Exception as exc:  # noqa: BLE001 - any failure: this torchvision is unusable
            pytest.skip(f"torchvision does not import: {exc}")
        finally:
            torch.library.register_fake = register_fake
    return torchvision


def built(source: str, class_name: str) -> Any:
    """The module a Python source (export's) defines, built by running it (torch's own
    initialisation, from its seed)."""
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(source, "exported.py", "exec"), namespace)
    return namespace[class_name]()


def on_one_thread(torch: Any) -> Any:
    """For an autouse fixture: torch on one thread while a test runs (the machine's cores
    are shared, and float64 convolutions on threads that wait for each other take ten times
    as long)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
