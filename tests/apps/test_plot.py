"""The learning curve of a loop run (``aitp_gym/plot.py``): ``read_scalars`` reads the run's TensorBoard scalars
(the last value written for a step wins) and ``plot_curve`` draws the proof rates per round as a PNG; ``aitp plot``
(``aitp_gym.cli.plot``) draws it on demand. The loop's own curve, on a real run, is in test_loop.py."""

import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("matplotlib")
torch_tensorboard = pytest.importorskip("torch.utils.tensorboard")

from aitp_gym.cli import main  # noqa: E402
from aitp_gym.plot import CURVES, plot_curve, read_scalars  # noqa: E402


@pytest.fixture
def run(tmp_path):
    """A run folder as ``aitp loop`` leaves it: scalars in ``tb/``, round 1 evaluated twice (a resumed round)."""
    writer = torch_tensorboard.SummaryWriter(str(tmp_path / "run" / "tb"))
    for step, value in ((0, 0.2), (1, 0.3), (1, 0.31), (2, 0.35)):
        writer.add_scalar("eval/proof_rate", value, step)
    for step, value in ((1, 0.5), (2, 0.6)):
        writer.add_scalar("train/proof_rate", value, step)
    writer.add_scalar("losses/ranker/loss", 1.5, 7)
    writer.close()
    return tmp_path / "run"


def test_read_scalars_gives_every_tag_by_step(run):
    scalars = read_scalars(run)
    assert set(scalars) == {"eval/proof_rate", "train/proof_rate", "losses/ranker/loss"}
    assert [s for s, _ in scalars["eval/proof_rate"]] == [0, 1, 2]
    assert [v for _, v in scalars["eval/proof_rate"]] == pytest.approx([0.2, 0.31, 0.35])  # the last write wins
    steps, values = zip(*scalars["train/proof_rate"], strict=True)
    assert steps == (1, 2) and values == pytest.approx((0.5, 0.6))
    assert [tag for tag, _ in CURVES] == ["eval/proof_rate", "train/proof_rate"]


def test_plot_curve_writes_a_png(run, tmp_path):
    out = plot_curve(run)
    assert out == run / "curve.png" and out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 5_000
    elsewhere = plot_curve(run, tmp_path / "figures" / "c.png", title="demo")
    assert elsewhere.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["c.png"]  # no temporary file left


def test_what_is_not_a_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no tb/ folder"):
        read_scalars(tmp_path)
    writer = torch_tensorboard.SummaryWriter(str(tmp_path / "tb"))
    writer.add_scalar("losses/seq2seq/loss", 1.0, 1)
    writer.close()
    with pytest.raises(ValueError, match="no eval/proof_rate scalars yet"):
        plot_curve(tmp_path)


def test_aitp_plot(run, tmp_path, capsys):
    assert main(["plot", str(run), "-o", str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2  # a folder, but not a run
    assert "no tb/ folder" in capsys.readouterr().err
