import sys
from pathlib import Path

# the oracle's case generators live beside the tests
sys.path.insert(0, str(Path(__file__).parent))


def pytest_addoption(parser):
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current output (then review the diff: PyTorch, not the golden file, is the oracle)",
    )
