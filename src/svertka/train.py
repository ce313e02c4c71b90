"""A small, readable training loop: `fit`, `evaluate`, checkpoints and metrics.

    history = fit(model, train_loader, val_loader, optimizer=optim.Adam(model.parameters()),
                  epochs=10, out_dir="runs/digits")

``fit`` alternates a training phase (``model.train()``, one optimizer step per batch) and a
validation phase (``model.eval()``, no graph), steps the LR scheduler, clips gradients, stops
early when the validation loss stops improving, writes a per-epoch log (``log.csv`` and
``log.json``), keeps the last and the best checkpoint (model, optimizer, scheduler, epoch,
RNG state: resuming continues exactly), stops with an actionable message when the loss or the
weights become NaN or infinite (never writing such weights over a good checkpoint), and saves a
checkpoint when interrupted with Ctrl-C.

Data-parallel: give ``fit`` and ``evaluate`` a ``nn.parallel.DistributedDataParallel`` model
(under ``mpiexec``) and a per-rank loader (``DistributedSampler`` for training,
:func:`shard_for_evaluation` for evaluation). Then the metrics are summed over the ranks, only
rank 0 calls ``log``, writes logs and checkpoints (of the bare model, ``model.module``, so they
load without DDP), and every rank takes the same decisions (early stopping, schedulers).
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import svertka
from svertka import distributed as dist
from svertka import random as sv_random
from svertka.autograd import grad_mode
from svertka.data import Subset
from svertka.nn import functional as F
from svertka.nn.parallel import DistributedDataParallel
from svertka.nn.utils import clip_grad_norm_


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN or infinite."""


def _advice(optimizer):
    return (f"Try a smaller learning rate (now {optimizer.param_groups[0]['lr']:g}), gradient "
            f"clipping (--clip-grad 1.0), or check that the inputs are normalised and the "
            f"targets are valid class indices.")


def _non_finite_state(model):
    """The name of the first parameter or floating buffer holding NaN or inf, else None."""
    named = list(model.named_parameters()) + list(model.named_buffers())
    for name, t in named:
        a = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            return name
    return None


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True,
                file=sys.stderr)


def progress_enabled(quiet=False):
    """Progress bars only when stderr is a terminal and not ``quiet``."""
    return not quiet and sys.stderr.isatty()


# ---------------------------------------------------------------------- data parallel
def _is_ddp(model):
    return isinstance(model, DistributedDataParallel)


def is_main_process():
    """True on rank 0 of a process group, and in a process that belongs to none."""
    return not dist.is_initialized() or dist.get_rank() == 0


def shard_for_evaluation(dataset):
    """This rank's share of ``dataset`` for evaluation: every ``world``-th item from ``rank``.

    Unlike ``DistributedSampler`` there is no padding, so the ranks' shares together hold each
    item exactly once and the summed counts describe the whole dataset. Outside a process group
    the dataset itself.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return dataset
    return Subset(dataset, list(range(dist.get_rank(), len(dataset), dist.get_world_size())))


def _unwrap(model):
    return model.module if _is_ddp(model) else model


# ---------------------------------------------------------------------- metrics
def confusion_matrix(targets, predictions, num_classes):
    """``cm[i, j]``: the number of samples of class ``i`` predicted as class ``j``."""
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    return np.bincount(targets * num_classes + predictions,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def precision_recall(cm):
    """Per-class precision and recall from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    return precision, recall


def evaluate(model, loader, num_classes=None, loss_fn=None, progress=False, desc="eval"):
    """Loss, top-1 and top-5 accuracy, confusion matrix and per-class precision/recall.

    Runs ``model.eval()`` under ``no_grad`` and restores the previous mode. ``loss_fn``
    defaults to cross-entropy (summed over samples, then averaged over the dataset). With a
    ``DistributedDataParallel`` model each rank evaluates its own ``loader`` (a shard, see
    :func:`shard_for_evaluation`) and the counts are summed over the ranks.

    Returns:
        a dict with ``loss``, ``accuracy``, ``top5_accuracy``, ``samples``,
        ``confusion_matrix`` (a list of lists), ``precision`` and ``recall`` (per class).
    """
    was_training = model.training
    model.eval()
    total_loss, count, correct1, correct5 = 0.0, 0, 0, 0
    targets_all, preds_all = [], []
    try:
        with grad_mode.no_grad():
            for x, y in _progress(loader, len(loader), desc, progress):
                logits = model(x)
                if loss_fn is None:
                    loss = F.cross_entropy(logits, y, reduction="sum").item()
                else:
                    loss = loss_fn(logits, y).item() * y.shape[0]
                total_loss += loss
                scores = logits.detach().numpy()
                labels = y.numpy()
                k = min(5, scores.shape[1])
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                pred = scores.argmax(axis=1)
                correct1 += int((pred == labels).sum())
                correct5 += int((top == labels[:, None]).any(axis=1).sum())
                count += labels.shape[0]
                targets_all.append(labels)
                preds_all.append(pred)
    finally:
        model.train(was_training)
    targets = np.concatenate(targets_all) if targets_all else np.zeros(0, np.int64)
    preds = np.concatenate(preds_all) if preds_all else np.zeros(0, np.int64)
    if _is_ddp(model):
        total_loss, count, correct1, correct5 = dist._allreduce_array(
            np.array([total_loss, count, correct1, correct5], dtype=np.float64)).tolist()
        count, correct1, correct5 = int(count), int(correct1), int(correct5)
    if count == 0:
        raise ValueError("evaluate: the loader produced no samples")
    if num_classes is None:
        top_label = max(targets.max(initial=0), preds.max(initial=0))
        if _is_ddp(model):
            top_label = dist._allreduce_array(np.array([top_label]), dist.ReduceOp.MAX)[0]
        num_classes = int(top_label) + 1
    cm = confusion_matrix(targets, preds, num_classes)
    if _is_ddp(model):
        cm = dist._allreduce_array(cm)
    precision, recall = precision_recall(cm)
    return {"loss": total_loss / count, "accuracy": correct1 / count,
            "top5_accuracy": correct5 / count, "samples": count,
            "confusion_matrix": cm.tolist(), "precision": precision.tolist(),
            "recall": recall.tolist()}


# ---------------------------------------------------------------------- checkpoints
def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=0, extra=None):
    """Model, optimizer and scheduler state, epoch and the RNG state, in one file (atomic)."""
    state = {"model": model.state_dict(), "epoch": int(epoch),
             "rng_state": sv_random.get_rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if extra:
        state.update(extra)
    svertka.save(state, path)


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Restore what :func:`save_checkpoint` saved; returns the checkpoint dict."""
    state = svertka.load(path)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"load_checkpoint: {os.fspath(path)!r} holds no 'model' state; is it a "
                         f"svertka training checkpoint?")
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if "rng_state" in state:
        sv_random.set_rng_state(state["rng_state"])
    return state


# ---------------------------------------------------------------------- fit
@dataclass
class History:
    """Per-epoch records (``epochs``), the best validation loss, and how training ended."""

    epochs: list = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float = math.inf
    stopped: str = "completed"   # 'completed', 'early_stopping', 'interrupted'

    def to_dict(self):
        """The history as a JSON-able dict."""
        return {"epochs": self.epochs, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "stopped": self.stopped}


def _write_logs(out_dir, history):
    rows = history.epochs
    if not rows:
        return
    keys = list(rows[0])
    tmp = os.path.join(out_dir, ".log.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, os.path.join(out_dir, "log.csv"))
    write_json(os.path.join(out_dir, "log.json"), history.to_dict())


def write_json(path, obj):
    """Write JSON atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def fit(model, train_loader, val_loader=None, *, optimizer, epochs, loss_fn=None,
        scheduler=None, scheduler_step="epoch", clip_grad_norm=None, patience=None,
        out_dir=None, start_epoch=0, history=None, progress=False, log=print,
        num_classes=None, checkpoint_extra=None):
    """Train ``model`` for ``epochs`` epochs (counting from ``start_epoch``).

    Args:
        model: an ``nn.Module`` returning logits ``(N, C)``.
        train_loader, val_loader: iterables of ``(inputs, targets)`` batches.
        optimizer: a ``svertka.optim`` optimizer over the model's parameters.
        epochs: the epoch number to stop at (so a resumed run continues to the same total).
        loss_fn: ``loss_fn(logits, targets)``; default cross-entropy.
        scheduler: an LR scheduler, stepped per epoch (``scheduler_step='epoch'``) or per batch
            (``'batch'``, for OneCycleLR); ``ReduceLROnPlateau`` is stepped with the
            validation loss.
        clip_grad_norm: clip the global gradient norm to this value before each step.
        patience: stop when the validation loss has not improved for this many epochs.
        out_dir: where to write ``log.csv``, ``log.json``, ``last.svk`` and ``best.svk``
            (with a ``DistributedDataParallel`` model: rank 0 only, the bare model's state).
        progress: show tqdm progress bars.
        log: called with one line of text per epoch (``None`` for silence; rank 0 only).
        checkpoint_extra: more entries for every checkpoint (the CLI stores its config).

    Returns:
        a :class:`History`.

    Raises:
        TrainingDiverged: when a training loss, a validation loss or (at the end of an epoch)
            a weight is NaN or infinite; that epoch writes no checkpoint, so ``last.svk`` and
            ``best.svk`` keep the last finite weights. NumPy's floating-point warnings are
            silenced while ``fit`` runs, since this check reports what they would.
    """
    # Overflow and NaN are detected in _fit (the loss at every step, the weights at the end of
    # every epoch) and reported as TrainingDiverged: NumPy's warnings about them would only
    # print noise before that message.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _fit(model, train_loader, val_loader, optimizer=optimizer, epochs=epochs,
                    loss_fn=loss_fn, scheduler=scheduler, scheduler_step=scheduler_step,
                    clip_grad_norm=clip_grad_norm, patience=patience, out_dir=out_dir,
                    start_epoch=start_epoch, history=history, progress=progress, log=log,
                    num_classes=num_classes, checkpoint_extra=checkpoint_extra)


class _AgreedInterrupt:
    """Ctrl-C during a data-parallel ``fit``: the signal only sets a flag, and after each
    optimizer step and each epoch the ranks agree (a one-number all-reduce) whether any of
    them was interrupted. Every rank then stops at the same point, with no collective left
    half-done, and rank 0 saves ``interrupted.svk``. (A KeyboardInterrupt raised wherever the
    signal lands would leave the other ranks waiting in a collective.)"""

    def __init__(self, active):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous = None

    def _request(self, signum, frame):
        self.requested = True

    def __enter__(self):
        if self.active:
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def check(self):
        """Raise KeyboardInterrupt on every rank when any rank was interrupted."""
        if self.active and dist._allreduce_array(np.array([float(self.requested)]),
                                                 op=dist.ReduceOp.MAX)[0]:
            raise KeyboardInterrupt


def _fit(model, train_loader, val_loader, *, optimizer, epochs, loss_fn, scheduler,
         scheduler_step, clip_grad_norm, patience, out_dir, start_epoch, history, progress, log,
         num_classes, checkpoint_extra):
    loss_fn = loss_fn or F.cross_entropy
    history = history or History()
    ddp, main = _is_ddp(model), is_main_process()
    if not main:
        out_dir, log, progress = None, None, False
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
    sampler = getattr(train_loader, "sampler", None)
    params = [p for p in model.parameters() if p.requires_grad]
    plateau = type(scheduler).__name__ == "ReduceLROnPlateau"
    epoch = start_epoch
    agreed = _AgreedInterrupt(ddp and dist.get_world_size() > 1)
    with agreed:
        try:
            for epoch in range(start_epoch, epochs):
                t0 = time.perf_counter()
                model.train()
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(epoch)   # a new shuffle per epoch, the same on every rank
                total, count, correct = 0.0, 0, 0
                batches = _progress(train_loader, len(train_loader), f"epoch {epoch + 1}/{epochs}",
                                    progress)
                for step, (x, y) in enumerate(batches):
                    logits = model(x)
                    loss = loss_fn(logits, y)
                    value = loss.item()
                    if not math.isfinite(value):
                        raise TrainingDiverged(
                            f"fit: the loss became {value} at epoch {epoch + 1}, batch {step + 1}. "
                            + _advice(optimizer))
                    optimizer.zero_grad()
                    loss.backward()
                    if clip_grad_norm is not None:
                        clip_grad_norm_(params, clip_grad_norm)
                    optimizer.step()
                    agreed.check()
                    if scheduler is not None and scheduler_step == "batch":
                        scheduler.step()
                    n = y.shape[0]
                    total += value * n
                    count += n
                    correct += int((logits.detach().numpy().argmax(axis=1) == y.numpy()).sum())
                    if progress and hasattr(batches, "set_postfix"):
                        # redrawn at tqdm's own rate: a redraw per batch cost 10x the update
                        batches.set_postfix(loss=f"{total / count:.4f}",
                                            acc=f"{correct / count:.3f}", refresh=False)
                if ddp:
                    total, count, correct = dist._allreduce_array(
                        np.array([total, count, correct], dtype=np.float64)).tolist()
                # the epoch's last step may have broken the weights: no later loss would show it
                # before they are saved over the good checkpoints
                broken = _non_finite_state(model)
                if broken is not None:
                    raise TrainingDiverged(
                        f"fit: the weights became non-finite ({broken} holds NaN or inf) at epoch "
                        f"{epoch + 1}, after its last optimizer step; the checkpoints of the "
                        f"epochs before are kept. " + _advice(optimizer))
                record = {"epoch": epoch + 1, "train_loss": total / max(count, 1),
                          "train_accuracy": correct / max(count, 1),
                          "lr": optimizer.param_groups[0]["lr"]}
                if val_loader is not None:
                    metrics = evaluate(model, val_loader, num_classes, None)
                    record.update(val_loss=metrics["loss"], val_accuracy=metrics["accuracy"],
                                  val_top5_accuracy=metrics["top5_accuracy"])
                    if not math.isfinite(metrics["loss"]):
                        raise TrainingDiverged(
                            f"fit: the validation loss became {metrics['loss']} at epoch "
                            f"{epoch + 1}; the checkpoints of the epochs before are kept. "
                            + _advice(optimizer))
                agreed.check()   # also a Ctrl-C during the validation phase
                record["seconds"] = time.perf_counter() - t0
                if scheduler is not None and scheduler_step == "epoch":
                    if plateau:
                        scheduler.step(record.get("val_loss", record["train_loss"]))
                    else:
                        scheduler.step()
                history.epochs.append(record)
                monitored = record.get("val_loss", record["train_loss"])
                improved = monitored < history.best_val_loss
                if improved:
                    history.best_val_loss, history.best_epoch = monitored, epoch + 1
                if out_dir is not None:
                    extra = {"history": history.to_dict(), **(checkpoint_extra or {})}
                    save_checkpoint(os.path.join(out_dir, "last.svk"), _unwrap(model), optimizer,
                                    scheduler, epoch + 1, extra)
                    if improved:
                        save_checkpoint(os.path.join(out_dir, "best.svk"), _unwrap(model),
                                        optimizer, scheduler, epoch + 1, extra)
                    _write_logs(out_dir, history)
                if log is not None:
                    text = (f"epoch {epoch + 1:3d}/{epochs}  train loss {record['train_loss']:.4f} "
                            f"acc {record['train_accuracy']:.4f}")
                    if "val_loss" in record:
                        text += (f"  val loss {record['val_loss']:.4f} "
                                 f"acc {record['val_accuracy']:.4f}")
                    log(text + f"  ({record['seconds']:.1f}s)")
                if patience is not None and history.best_epoch is not None and \
                        epoch + 1 - history.best_epoch >= patience:
                    history.stopped = "early_stopping"
                    if log is not None:
                        log(f"early stopping: no improvement for {patience} epochs (best epoch "
                            f"{history.best_epoch})")
                    break
        except KeyboardInterrupt:
            history.stopped = "interrupted"
            broken = _non_finite_state(model)
            if out_dir is not None and broken is None:
                path = os.path.join(out_dir, "interrupted.svk")
                save_checkpoint(path, _unwrap(model), optimizer, scheduler, epoch,
                                {"history": history.to_dict(), **(checkpoint_extra or {})})
                if log is not None:
                    log(f"interrupted: saved {path} (resume with --resume {path})")
            elif out_dir is not None and log is not None:
                log(f"interrupted: not saved, the weights hold NaN or inf ({broken})")
    return history
