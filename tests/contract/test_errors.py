"""The error record: its constructor fields, and the place fields of its JSON."""

from convcalc.errors import ConvcalcError, ShapeError, Where, outer_place, place_fields
from convcalc.layers import lookup
from convcalc.model import LayerSpec, Places


def test_branch_and_resizable_are_constructor_keywords() -> None:
    error = ShapeError(
        "differ", argument="from", expected=4, got=5, dim=1, branch=2, resizable=False
    )
    assert (error.branch, error.resizable, error.dim, error.expected, error.got) == (
        2,
        False,
        1,
        4,
        5,
    )
    plain = ConvcalcError("a fact")
    assert (plain.branch, plain.resizable) == (None, True)


def test_outer_place_keeps_the_inner_one_as_defined_at() -> None:
    inner = Where("blocks.yaml:6", "blocks.yaml", 6, 9)
    outer = Where("net.yaml:5", "net.yaml", 5, 9)
    assert outer_place(inner, None) == ("blocks.yaml", 6, 9, None)
    assert outer_place(None, outer) == ("net.yaml", 5, 9, None)
    assert outer_place(inner, outer) == ("net.yaml", 5, 9, ("blocks.yaml", 6))
    # the same line seen twice: the inner place, with its column, and nothing moved
    assert outer_place(inner, Where("blocks.yaml:6", "blocks.yaml", 6, 1)) == (
        "blocks.yaml", 6, 9, None,
    )  # fmt: skip
    # text without parts (a --layer flag) has no fields
    assert outer_place("--layer 'ReLU()'", None) == (None, None, None, None)
    assert place_fields("net.yaml", 5, 9, ("blocks.yaml", 6)) == {
        "file": "net.yaml", "line": 5, "column": 9,
        "defined_at": {"file": "blocks.yaml", "line": 6},
    }  # fmt: skip


def test_a_layer_spec_places_itself_without_an_error_record() -> None:
    at, outer = Places("blocks.yaml"), Places("net.yaml")
    spec = LayerSpec(
        0, "d1.conv", lookup("ReLU").build((), {}), where=at(6),
        arg_where={"inplace": at.where(7, 11)},
        spot=(at, 6, 9, "ReLU()"), used_at=(outer, 5, 9, "Down()"),
    )  # fmt: skip
    assert spec.place() == {
        "file": "net.yaml", "line": 5, "column": 9,
        "defined_at": {"file": "blocks.yaml", "line": 6},
    }  # fmt: skip
    assert spec.place("inplace")["defined_at"] == {"file": "blocks.yaml", "line": 7}
    alone = LayerSpec(0, "r", lookup("ReLU").build((), {}), spot=(outer, 3, 5, "ReLU()"))
    assert alone.place() == {"file": "net.yaml", "line": 3, "column": 5, "defined_at": None}
