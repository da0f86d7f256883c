"""A convcalc Spec replayed in PyTorch: the same layers as torch modules, the same graph.

For tests and benchmarks only (torch is never a dependency of convcalc). Each
layer becomes ``torch.nn.<type>(**args)``; an argument left out to be inferred
is filled from the layer's input, as PyTorch's Lazy modules would; merges
become torch.add / torch.mul / torch.cat.
"""

from __future__ import annotations

from typing import Any

from oracle_cases import INFERRED

from convcalc.model import INPUT, LayerSpec, Spec

MERGES = ("Add", "Mul", "Concat")


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
