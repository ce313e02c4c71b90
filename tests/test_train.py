"""The training loop: metrics, checkpoints, exact resume, divergence and interruption."""

import json
import os
import warnings

import numpy as np
import pytest

import svertka
from svertka import nn, optim, train
from svertka.data import DataLoader, TensorDataset


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return TensorDataset(svertka.tensor(x), svertka.tensor(y))


def _model():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def test_confusion_matrix_and_precision_recall_by_hand():
    cm = train.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    p, r = train.precision_recall(cm)
    np.testing.assert_allclose(p, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(r, [0.5, 1.0, 2 / 3])


def test_evaluate_counts_top1_top5_and_restores_mode():
    class Fixed(nn.Module):
        def forward(self, x):
            return x

    logits = svertka.tensor([[3.0, 2, 1, 0, -1, -2], [0.0, 1, 2, 3, 4, 5]])
    loader = [(logits, svertka.tensor([1, 0]))]
    m = Fixed()
    m.train()
    metrics = train.evaluate(m, loader, num_classes=6)
    assert metrics["accuracy"] == 0.0 and metrics["top5_accuracy"] == 0.5
    assert m.training
    assert metrics["loss"] == pytest.approx(
        svertka.nn.functional.cross_entropy(logits, svertka.tensor([1, 0])).item(), rel=1e-6)


def test_resume_continues_exactly_like_uninterrupted_training(tmp_path):
    def run(epochs, out, start=0, resume=None):
        svertka.manual_seed(0)
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = optim.lr_scheduler.StepLR(opt, 1, 0.5)
        loader = DataLoader(_data(), batch_size=8, shuffle=True)
        history = None
        if resume:
            state = train.load_checkpoint(resume, model, opt, sched)
            start = state["epoch"]
        history = train.fit(model, loader, optimizer=opt, scheduler=sched, epochs=epochs,
                            start_epoch=start, out_dir=out, log=None)
        return model, history

    full, _ = run(3, tmp_path / "full")
    run(2, tmp_path / "part")
    resumed, history = run(3, tmp_path / "resumed", resume=tmp_path / "part" / "last.svk")
    for (n, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=n)
    assert [r["epoch"] for r in history.epochs] == [3]


def test_fit_writes_logs_and_best_checkpoint(tmp_path):
    svertka.manual_seed(0)
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    history = train.fit(model, DataLoader(_data(), batch_size=16, shuffle=True),
                        DataLoader(_data(32, seed=1), batch_size=16), optimizer=opt,
                        epochs=3, out_dir=tmp_path, log=None)
    assert sorted(os.listdir(tmp_path)) == ["best.svk", "last.svk", "log.csv", "log.json"]
    log = json.loads((tmp_path / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_accuracy", "lr", "seconds"} <= set(log["epochs"][0])
    assert (tmp_path / "log.csv").read_text().splitlines()[0].startswith("epoch,train_loss")
    assert history.best_epoch == log["best_epoch"]


def test_nan_loss_stops_with_actionable_message():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def bad_loss(logits, y):
        return (logits * float("nan")).sum()

    with pytest.raises(train.TrainingDiverged, match="the loss became nan at epoch 1, batch 1. "
                                                     "Try a smaller learning rate"):
        train.fit(model, DataLoader(_data(), batch_size=8), optimizer=opt, epochs=1,
                  loss_fn=bad_loss, log=None)


def test_ctrl_c_saves_a_checkpoint_and_returns(tmp_path):
    class Interrupting:
        def __init__(self, loader):
            self.loader = loader

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            for i, batch in enumerate(self.loader):
                if i == 2:
                    raise KeyboardInterrupt
                yield batch

    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    lines = []
    history = train.fit(model, Interrupting(DataLoader(_data(), batch_size=8)), optimizer=opt,
                        epochs=2, out_dir=tmp_path, log=lines.append)
    assert history.stopped == "interrupted"
    assert (tmp_path / "interrupted.svk").exists()
    assert "resume with --resume" in lines[-1]


def test_early_stopping_after_patience():
    svertka.manual_seed(0)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing improves after the first epoch
    history = train.fit(model, DataLoader(_data(), batch_size=16),
                        DataLoader(_data(), batch_size=64), optimizer=opt, epochs=10,
                        patience=2, log=None)
    assert history.stopped == "early_stopping" and len(history.epochs) == 3


class _BreakingSGD(optim.SGD):
    """SGD whose ``break_at``-th step (counting from 1) writes NaN into the first weight."""

    def __init__(self, params, break_at, **kwargs):
        super().__init__(params, **kwargs)
        self.break_at, self.steps = break_at, 0

    def step(self, closure=None):
        super().step(closure)
        self.steps += 1
        if self.steps == self.break_at:
            self.param_groups[0]["params"][0].data.fill_(float("nan"))


def _finite(path):
    state = svertka.load(path)
    return state["epoch"], all(np.isfinite(t.numpy()).all() for t in state["model"].values())


@pytest.mark.parametrize("with_validation", [False, True], ids=["no-validation",
                                                               "validation"])
def test_fit_never_checkpoints_weights_broken_by_an_epochs_last_step(tmp_path, with_validation):
    # 2 batches per epoch: the 4th step is the last of epoch 2; its loss was computed before
    # the step, so only the weights can show the damage before epoch 2 is saved
    svertka.manual_seed(0)
    model = _model()
    opt = _BreakingSGD(model.parameters(), break_at=4, lr=0.01)
    val = DataLoader(_data(16, seed=1), batch_size=16) if with_validation else None
    with pytest.raises(train.TrainingDiverged, match=r"weights became non-finite \(0\.weight "
                                                     r"holds NaN or inf\) at epoch 2"):
        train.fit(model, DataLoader(_data(16), batch_size=8), val, optimizer=opt, epochs=3,
                  out_dir=tmp_path, log=None)
    assert _finite(tmp_path / "last.svk") == (1, True)
    assert _finite(tmp_path / "best.svk") == (1, True)
    assert [r["epoch"] for r in json.loads((tmp_path / "log.json").read_text())["epochs"]] == [1]


def test_fit_reports_divergence_without_numpy_warnings():
    # a huge learning rate overflows the logits within a few steps
    svertka.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 512), nn.ReLU(), nn.Linear(512, 3))
    opt = optim.SGD(model.parameters(), lr=1e12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a RuntimeWarning would be raised instead
        with pytest.raises(train.TrainingDiverged, match="became"):
            train.fit(model, DataLoader(_data(), batch_size=8), optimizer=opt, epochs=3,
                      log=None)
    assert np.geterr()["over"] == "warn"   # fit leaves the caller's settings alone


def test_ctrl_c_after_weights_broke_keeps_the_good_checkpoints(tmp_path):
    class InterruptAtEpoch2:
        def __init__(self, loader):
            self.loader, self.epoch = loader, 0

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            self.epoch += 1
            for i, batch in enumerate(self.loader):
                if self.epoch == 2 and i == 1:
                    raise KeyboardInterrupt
                yield batch

    svertka.manual_seed(0)
    model = _model()
    opt = _BreakingSGD(model.parameters(), break_at=3, lr=0.01)   # epoch 2's first step
    lines = []
    history = train.fit(model, InterruptAtEpoch2(DataLoader(_data(16), batch_size=8)),
                        optimizer=opt, epochs=3, out_dir=tmp_path, log=lines.append)
    assert history.stopped == "interrupted"
    assert not (tmp_path / "interrupted.svk").exists()
    assert "not saved, the weights hold NaN or inf" in lines[-1]
    assert _finite(tmp_path / "last.svk") == (1, True)


def test_fit_progress_bar_shows_running_metrics_without_a_redraw_per_batch(monkeypatch):
    # set_postfix redraws the bar by default: once per batch that cost ~10x the update
    # itself (0.25 ms a batch); with refresh=False tqdm redraws at its own rate
    calls = []

    class Bar(list):
        def set_postfix(self, refresh=True, **values):
            calls.append((refresh, values))

    monkeypatch.setattr(train, "_progress", lambda it, total, desc, enabled: Bar(it))
    model = _model()
    train.fit(model, DataLoader(_data(), batch_size=16), optimizer=optim.SGD(
        model.parameters(), lr=0.1), epochs=1, progress=True, log=None)
    assert len(calls) == 4 and all(refresh is False for refresh, _ in calls)
    assert set(calls[-1][1]) == {"loss", "acc"}
