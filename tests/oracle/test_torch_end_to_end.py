"""End to end, as docs/running.md tells a user: export a torch CNN's weights, run it with `convcalc run`, get torch's output."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from clirun import run as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("saved", ["npz", "pt"])
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 1e-4)])
def test_lenet_weights_exported_with_the_readme_snippet(tmp_path, dtype, rtol, saved):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(1, 6, 5)), ("1", nn.ReLU()), ("2", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(6, 16, 5)), ("4", nn.ReLU()), ("5", nn.MaxPool2d(2)), ("6", nn.Flatten()),
                ("fc1", nn.Linear(400, 120)), ("8", nn.ReLU()), ("fc2", nn.Linear(120, 84)), ("10", nn.ReLU()),
                ("fc3", nn.Linear(84, 10)),
            ]
        )
    ).double().eval()  # fmt: skip
    x = torch.randn(4, 1, 32, 32, dtype=torch.float64)

    if saved == "npz":  # the snippet of docs/running.md
        np.savez(
            tmp_path / "weights.npz",
            **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        )
        np.save(tmp_path / "x.npy", x.numpy())
    else:  # torch's own files, read without torch
        torch.save(model.state_dict(), tmp_path / "weights.pt")
        torch.save(x, tmp_path / "x.pt")
    data = "x.npy" if saved == "npz" else "x.pt"

    out = cli(
        "run", str(ROOT / "examples" / "lenet.yaml"), "--weights", str(tmp_path / f"weights.{saved}"),
        "--input-data", str(tmp_path / data), "--save-output", str(tmp_path / "y.npy"), "--dtype", dtype,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    with torch.no_grad():
        expected = model(x).numpy()
    got = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())

    # and as a check a CI job can run: torch's own output as the reference
    with torch.no_grad():
        torch.save(model(x), tmp_path / "ref.pt")
    out = cli(
        "run", str(ROOT / "examples" / "lenet.yaml"), "--weights", str(tmp_path / f"weights.{saved}"),
        "--input-data", str(tmp_path / data), "--dtype", dtype, "--compare", str(tmp_path / "ref.pt"),
    )  # fmt: skip
    assert out.exit_code == 0 and "· matches" in out.output, out.output
