"""Weights and inputs saved with torch.save or as safetensors, read without either library
(convcalc.torchfile, convcalc.safetensorsfile).

The fixtures were written by torch and safetensors (tests/fixtures/make_weightfiles.py), each
beside an .npz of the same tensors as torch's ``.numpy()`` gives them; these tests need
neither library.
"""

from __future__ import annotations

import json
import pickle
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest
from clirun import run as cli

from convcalc import load_spec, run_forward, safetensorsfile, spec_from_data
from convcalc.errors import SpecError
from convcalc.files import load_array, load_weights
from convcalc.torchfile import is_torch_file, read

FIX = Path(__file__).parent.parent / "fixtures" / "weightfiles"

#: the network of net.pt, as a convcalc model
NET = """\
input: [2, 1, 8, 8]
layers:
  - {type: Conv2d, name: conv, in_channels: 1, out_channels: 4, kernel_size: 3}
  - {type: BatchNorm2d, name: bn, num_features: 4}
  - {type: ReLU, name: relu}
  - {type: MaxPool2d, name: pool, kernel_size: 2}
  - {type: Flatten, name: flat}
  - {type: Linear, name: fc, in_features: 36, out_features: 5}
"""


@pytest.mark.parametrize("case", ["dtypes", "views"])
def test_tensors_read_as_torch_gives_them(case):
    """Every dtype (bfloat16 widened to float32), scalars, empty tensors, and views that share
    one storage at offsets and strides (transposed, a column, every other, expanded)."""
    got = read(str(FIX / f"{case}.pt"))
    with np.load(FIX / f"{case}.npz") as want:
        assert list(got) == list(want.files)
        for key in want.files:
            assert got[key].dtype == want[key].dtype, key
            assert got[key].shape == want[key].shape, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
            assert got[key].flags.c_contiguous and got[key].flags.writeable, key


def test_safetensors_read_as_torch_gives_them():
    got = safetensorsfile.read(str(FIX / "dtypes.safetensors"))
    with np.load(FIX / "dtypes.npz") as want:
        assert sorted(got) == sorted(want.files)
        for key in want.files:
            assert got[key].dtype == want[key].dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert safetensorsfile.is_safetensors_file(str(FIX / "net.safetensors"))
    assert not safetensorsfile.is_safetensors_file(str(FIX / "net.pt"))
    assert not safetensorsfile.is_safetensors_file(str(FIX / "dtypes.npz"))


@pytest.mark.parametrize("saved", ["net.pt", "net.safetensors"])
def test_a_saved_state_dict_runs_to_torchs_output(tmp_path, saved):
    spec_file = tmp_path / "net.yaml"
    spec_file.write_text(NET)
    weights = load_weights(str(FIX / saved))
    assert weights["bn.num_batches_tracked"].dtype == np.int64
    x = load_array(str(FIX / "net_x.pt"), "input data")
    want = np.load(FIX / "net_y.npy")
    result = run_forward(load_spec(str(spec_file)), weights=weights, input_data=x, dtype="float64")
    assert result.verified
    np.testing.assert_allclose(result.output, want, rtol=1e-9, atol=1e-12)

    out = cli(
        "run", str(spec_file), "--weights", str(FIX / saved), "--input-data", str(FIX / "net_x.pt"),
        "--save-output", str(tmp_path / "y.npy"), "--dtype", "float32", "--format", "json",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["verified"] is True
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-4, atol=1e-5)


def test_npz_files_are_still_read_as_npz(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.arange(3.0))
    assert not is_torch_file(str(path))
    assert list(load_weights(str(path))) == ["a"]


@pytest.mark.parametrize(
    "name, message, hint",
    [
        (
            "module.pt",
            "holds a pickled torch.nn.modules.container.Sequential, not a state_dict of tensors",
            "torch.save(model.state_dict(), path)",
        ),
        (
            "checkpoint.pt",
            "holds a dict of 3 entries, not a state_dict of named tensors (a checkpoint? its 'model' entry is one)",
            "torch.save(checkpoint['model'], path)",
        ),
        (
            "legacy.pt",
            "a bare pickle, which is not read (unpickling can run code)",
            "PyTorch ≥ 1.6",
        ),
    ],
)
def test_other_saved_objects_are_refused_with_what_to_save(name, message, hint):
    path = str(FIX / name)
    with pytest.raises(SpecError) as info:
        load_weights(path)
    assert info.value.exit_code == 2
    assert info.value.message == f"{path}: {message}"
    assert hint in info.value.hint
    out = cli("run", "-i", "1,1,8,8", "-l", "Conv2d(1, 4, 3)", "--weights", path)
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_an_input_file_must_hold_one_tensor():
    with pytest.raises(SpecError, match="holds a dict of 9 entries, not one tensor"):
        load_array(str(FIX / "net.pt"), "input data")
    with pytest.raises(
        SpecError, match=r"holds one tensor of shape \(2, 1, 8, 8\), not a state_dict"
    ):
        load_weights(str(FIX / "net_x.pt"))


def _torch_like(tmp_path: Path, payload: bytes, extra: dict[str, bytes] | None = None) -> str:
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("crafted/data.pkl", payload)
        archive.writestr("crafted/byteorder", b"little")
        for name, data in (extra or {}).items():
            archive.writestr(f"crafted/{name}", data)
    return str(path)


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = _torch_like(tmp_path, pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(SpecError, match=r"holds a pickled (builtins|io)\.open, not a state_dict"):
        read(path)
    assert not marker.exists()


def test_a_tensor_past_its_storage_is_an_error_not_a_crash(tmp_path):
    """views.pt as torch wrote it, its storage cut to 4 elements (and the pickle's element
    count with it): the 4×6 tensor on it must be refused, not read out of bounds."""
    with zipfile.ZipFile(FIX / "views.pt") as archive:
        names = archive.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl"))
        payload = bytearray(archive.read(pkl))
    # the storage reference is ('storage', FloatStorage, '0', 'cpu', numel): patch numel
    ops = list(pickletools.genops(bytes(payload)))
    at = next(i for i, (op, arg, _) in enumerate(ops) if arg == "cpu")
    numel = next(op_pos for op, arg, op_pos in ops[at:] if op.name == "BININT1")
    assert payload[numel + 1] == 24
    payload[numel + 1] = 4
    path = _torch_like(tmp_path, bytes(payload), {"data/0": np.zeros(4, "<f4").tobytes()})
    with pytest.raises(SpecError, match=r"a tensor of size \(4, 6\) reads past its storage of 4"):
        read(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PK\x03\x04 truncated", "w.pt: a damaged zip archive"),
        (b"not a file of any kind", "w.pt: not a NumPy .npz file"),
    ],
)
def test_unreadable_files_are_input_errors(tmp_path, content, message):
    path = tmp_path / "w.pt"
    path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        load_weights(str(path))
    assert info.value.exit_code == 2
    assert message in info.value.message


def test_a_cut_torch_file_is_named_a_damaged_archive(tmp_path):
    data = (FIX / "net.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SpecError, match="cut.pt: a damaged zip archive"):
        load_weights(str(path))


def _safetensors(tmp_path: Path, header: dict, data: bytes) -> str:
    text = json.dumps(header).encode()
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return str(path)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "lies outside the file"),
        (
            {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 12]},
            "needs 24 bytes, the file gives 12",
        ),
        (
            {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]},
            "has dtype F8_E4M3, which is not read",
        ),
        ({"dtype": "F32", "shape": "2x3"}, "has a malformed entry"),
    ],
)
def test_a_broken_safetensors_file_is_an_input_error(tmp_path, entry, message):
    path = _safetensors(tmp_path, {"__metadata__": {"format": "pt"}, "w": entry}, bytes(16))
    with pytest.raises(SpecError, match=message) as info:
        load_weights(path)
    assert info.value.exit_code == 2
    assert "'w'" in info.value.message


@pytest.mark.parametrize("name", ["net.pt", "net.safetensors", "dtypes.npz", "net_x.pt"])
def test_damaged_files_are_input_errors_never_crashes(tmp_path, name):
    """Every cut and many one-byte changes of a good file: read, or a SpecError (exit 2)."""
    data = (FIX / name).read_bytes()
    rng = np.random.default_rng(0)
    variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 60))]
    for _ in range(120):
        changed = bytearray(data)
        changed[int(rng.integers(len(data)))] = int(rng.integers(256))
        variants.append(bytes(changed))
    path = tmp_path / name
    for variant in variants:
        path.write_bytes(variant)
        for load in (load_weights, lambda p: load_array(p, "input data")):
            try:
                load(str(path))
            except SpecError as exc:
                assert exc.exit_code == 2


# ------------------------------------------- sizes checked before anything is read
LIMIT = 64 << 20


def _npz_declaring(tmp_path: Path, name: str, shape: tuple[int, ...]) -> str:
    """An .npz whose member declares ``shape`` (float32) and holds no data at all: what a
    deflate bomb looks like before it is inflated."""
    path = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"{name}.npy", "w") as f,
    ):
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(f, header)
    return str(path)


def test_a_stride_0_tensor_is_refused_by_its_declared_size_unread():
    import tracemalloc

    path = str(FIX / "broadcast.pt")
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as info:
            load_weights(path, LIMIT)
        weights = load_weights(path)  # no limit: declared, still not read
        assert weights["fc.weight"].shape == (1 << 15, 1 << 14)
        spec = spec_from_data(
            {
                "input": [1, 1 << 14],
                "layers": [
                    {
                        "type": "Linear",
                        "name": "fc",
                        "in_features": 1 << 14,
                        "out_features": 8,
                        "bias": False,
                    }
                ],
            }
        )
        with pytest.raises(
            SpecError, match=r"weight 'fc.weight' has shape \(32768, 16384\), expected \(8, 16384\)"
        ):
            run_forward(spec, weights=weights)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (
        info.value.message
        == f"{path}: the weights take 2.00 GiB (2,147,483,648 bytes), more than the memory limit of 64.00 MiB (67,108,864 bytes)"
    )
    assert (info.value.expected, info.value.got) == (LIMIT, 2 << 30)
    assert peak < 16 << 20  # the 2 GiB were never made


def test_an_npz_member_is_refused_by_its_header_before_it_is_inflated(tmp_path):
    path = _npz_declaring(tmp_path, "fc.weight", (1 << 28,))
    with pytest.raises(
        SpecError,
        match=r"the weights take 1.00 GiB \(1,073,741,824 bytes\), more than the memory limit of 64.00 MiB",
    ):
        load_weights(path, LIMIT)
    with pytest.raises(
        SpecError,
        match=r"the input data take 1.00 GiB \(1,073,741,824 bytes\), more than the memory limit",
    ):
        _npy_too_big(tmp_path)
    # a wrong shape is reported as such: the (missing) data is never read
    small = _npz_declaring(tmp_path, "fc.weight", (3, 3))
    spec = spec_from_data(
        {
            "input": [1, 4],
            "layers": [
                {"type": "Linear", "name": "fc", "in_features": 4, "out_features": 2, "bias": False}
            ],
        }
    )
    with pytest.raises(
        SpecError, match=r"weight 'fc.weight' has shape \(3, 3\), expected \(2, 4\)"
    ):
        run_forward(spec, weights=load_weights(small))
    # the right shape, and then the missing data is an input error naming the file
    right = _npz_declaring(tmp_path, "fc.weight", (2, 4))
    with pytest.raises(SpecError, match=r"bomb.npz: a tensor of shape \(2, 4\) cannot be read"):
        run_forward(spec, weights=load_weights(right))


def _npy_too_big(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)}
        )
    load_array(str(path), "input data", LIMIT)


def test_a_safetensors_header_longer_than_the_file_says_so(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes((1 << 63).to_bytes(8, "little") + b'{"w": {}}')
    with pytest.raises(SpecError) as info:
        load_weights(str(path))
    assert info.value.message == (
        f"{path}: the safetensors header declares 9,223,372,036,854,775,808 bytes, more than the file's 17"
    )


def test_the_command_line_passes_its_memory_limit_to_the_readers():
    out = cli(
        "run",
        "-i",
        "1,16384",
        "-l",
        "Linear(16384, 8, bias=False)",
        "--weights",
        str(FIX / "broadcast.pt"),
        "--max-memory",
        "64M",
    )
    assert out.exit_code == 2
    assert (
        "the weights take 2.00 GiB (2,147,483,648 bytes), more than the memory limit of 64.00 MiB"
        in out.stderr
    )


@pytest.mark.parametrize("option", ["--weights", "--input-data", "--compare"])
@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "folder"])
def test_a_device_or_folder_is_refused_before_it_is_read(tmp_path, option, path):
    """/dev/zero has no size to check and never ends: refused by what it is, not read."""
    where = str(tmp_path) if path == "folder" else path
    out = cli(
        "run", "-i", "1,3,8,8", "-l", "ReLU", option, where, "--max-memory", "64M", "-f", "json"
    )
    assert out.exit_code == 2
    kind = "a folder" if path == "folder" else "not a regular file"
    assert json.loads(out.stdout)["errors"][0]["message"] == f"{where}: {kind}"


# ---------------------------------------------------------------- many entries
#: a model of 4 weights (c.weight, c.bias, fc.weight, fc.bias): a file for it may hold 1,008
FOUR = ["-l", "c=Conv2d(3,4,3)", "-l", "f=Flatten()", "-l", "fc=Linear(144,10)", "-i", "1,3,8,8"]


def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def _state_pickle(keys: list[str], shared: bool = False) -> bytes:
    """The pickle torch.save writes for {key: a one-float tensor}: each on a storage named as
    its key, or (``shared``) one tensor on storage "0" saved under every name (written once,
    then referred to)."""
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n"
    hooks = b"ccollections\nOrderedDict\n)R"
    parts = [b"\x80\x02ccollections\nOrderedDict\n)R("]
    for i, key in enumerate(keys):
        if shared and i > 0:
            parts.append(_unicode(key) + b"h\x00")  # BINGET 0: the first tensor again
            continue
        pid = b"(" + _unicode("storage") + b"ctorch\nFloatStorage\n"
        pid += _unicode("0" if shared else key) + _unicode("cpu") + b"K\x01tQ"
        tensor = rebuild + b"(" + pid + b"K\x00(K\x01t(K\x01t\x89" + hooks + b"tR"
        parts.append(_unicode(key) + tensor + (b"q\x00" if shared else b""))
    return b"".join(parts) + b"u."


def _saved(tmp_path: Path, keys: list[str], shared: bool) -> str:
    storages = ["0"] if shared else keys
    return _torch_like(
        tmp_path,
        _state_pickle(keys, shared),
        {f"data/{name}": b"\0\0\0\0" for name in storages},
    )


def _refused(path: str) -> str:
    out = cli("run", *FOUR, "--weights", path, "--max-memory", "64M", "-f", "json")
    assert out.exit_code == 2, out.stdout
    errors = json.loads(out.stdout)["errors"]
    assert len(errors) == 1
    return str(errors[0]["message"]).removeprefix(path + ": ")


@pytest.mark.parametrize("shared", [False, True])
def test_a_crafted_state_dict_pickle_is_read_as_torch_writes_it(tmp_path, shared):
    state = read(_saved(tmp_path, ["a", "b", "c"], shared))
    assert list(state) == ["a", "b", "c"]
    assert all(v.shape == (1,) and v.dtype == np.float32 for v in state.values())


def test_a_weight_file_of_far_more_entries_than_the_model_is_refused_by_its_count(tmp_path):
    """200,000 entries for a model of 4 weights took seconds and hundreds of MB before the
    refusal (every entry built, then each compared); the count is read first, from the
    safetensors header, the zip directory (.npz, .pt) or the pickle as it is read."""
    n = 200_000
    entries = (f'"k{i}":{{"dtype":"F32","shape":[1],"data_offsets":[{4 * i},{4 * i + 4}]}}' for i in range(n))  # fmt: skip
    text = ("{" + ",".join(entries) + "}").encode()
    path = tmp_path / "many.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4 * n))
    assert _refused(str(path)) == "holds 200,000 entries; the model has 4 weights"
    np.savez(tmp_path / "many.npz", **{f"k{i}": np.zeros(1, np.float32) for i in range(3000)})
    assert _refused(str(tmp_path / "many.npz")) == "holds 3,000 entries; the model has 4 weights"
    keys = [f"k{i}" for i in range(3000)]
    # the archive's members: 3,000 storages, data.pkl and byteorder
    assert _refused(_saved(tmp_path, keys, False)) == "holds 3,002 entries; the model has 4 weights"


def test_past_the_cheap_count_the_readers_count_as_they_build(tmp_path):
    """What the first count cannot see: an .npz between the limit and the room a .pt's extra
    members get; one tensor saved under 5,000 names (one storage); a safetensors header
    whose names hide the key the count looks for (a JSON escape)."""
    np.savez(tmp_path / "some.npz", **{f"k{i}": np.zeros(1, np.float32) for i in range(1010)})
    assert _refused(str(tmp_path / "some.npz")) == "holds 1,010 entries; the model has 4 weights"
    keys = [f"k{i}" for i in range(5000)]
    assert _refused(_saved(tmp_path, keys, True)) == "holds 5,000 entries; the model has 4 weights"
    keys = [f"k{i}" for i in range(200_000)]
    assert _refused(_saved(tmp_path, keys, True)).startswith("its pickle takes ")
    header = {f"k{i}": {"dtype": "F32", "shape": [1], "data_offset\\u0073": [0, 4]} for i in range(2000)}  # fmt: skip
    text = json.dumps(header).replace("\\\\u0073", "\\u0073").encode()
    path = tmp_path / "hidden.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    assert _refused(str(path)) == "holds more than 1,008 entries; the model has 4 weights"


def test_a_file_within_the_allowance_gets_the_usual_messages(tmp_path):
    """1,000 entries no layer has, beside the model's own: not refused by their count (a
    larger model's state_dict may carry modules a run does not call); reported as ever."""
    arrays = {f"extra{i}": np.zeros(1, np.float32) for i in range(1000)}
    arrays |= {
        "c.weight": np.zeros((4, 3, 3, 3), np.float32),
        "c.bias": np.zeros(4, np.float32),
        "fc.weight": np.zeros((10, 144), np.float32),
        "fc.bias": np.zeros(10, np.float32),
    }
    np.savez(tmp_path / "w.npz", **arrays)
    message = _refused(str(tmp_path / "w.npz"))
    assert (
        message
        == "the weights have 1000 unexpected keys: 'extra0', 'extra1', 'extra10', 'extra100', 'extra101' …"
    )


def test_the_models_count_of_entries(tmp_path):
    from convcalc.weights import MOST_ENTRIES, state_dict_size

    (tmp_path / "net.yaml").write_text(NET)
    spec = load_spec(str(tmp_path / "net.yaml"))
    # conv 2, bn 5 (weight, bias, running_mean, running_var, num_batches_tracked), fc 2
    assert state_dict_size(spec) == 9
    lazy = spec_from_data(
        {
            "input": [1, 3, 8, 8],
            "layers": [{"type": "LazyConv2d", "out_channels": 4, "kernel_size": 3}],
        }
    )
    assert state_dict_size(lazy) == MOST_ENTRIES


def test_input_data_and_reference_archives_of_many_entries_are_refused_by_their_count(tmp_path):
    """One tensor is a few archive members: a file of thousands is refused from its zip
    directory's count, before any entry is built (200,000 took 6.5 s and 477 MB)."""
    many = tmp_path / "many.npz"
    np.savez(many, **{f"k{i}": np.zeros(1) for i in range(3000)})
    for option in ("--input-data", "--compare"):
        result = cli("run", "-l", "ReLU()", "-i", "1,3", option, str(many))
        assert result.exit_code == 2
        assert "an archive of 3,000 entries" in result.stderr
