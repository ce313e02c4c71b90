"""The ``svertka`` command line: train, evaluate, predict, and list models and datasets.

    svertka train                      # LeNet-5 on the embedded digits, ~98-99% in seconds
    svertka train --dataset mnist --data-dir ~/data --epochs 5
    svertka train --nproc 2            # data-parallel on 2 processes (mpiexec, svertka[mpi])
    svertka evaluate runs/digits-lenet5/best.svk
    svertka predict runs/digits-lenet5/best.svk image.png --top 3
    svertka predict --model resnet18 --weights IMAGENET1K_V1 cat.jpg
    svertka models | svertka datasets
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np

from svertka._cli_errors import FILE_ERRORS, CommandError, describe, user_errors

DEFAULTS = {
    "model": "lenet5", "dataset": "digits", "data_dir": None, "epochs": None,
    "batch_size": 32, "lr": None, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0,
    "scheduler": "cosine", "clip_grad": None, "patience": None, "seed": 0, "out": None,
    "resume": None, "augment": None, "num_workers": 0, "download": False, "quiet": False,
    "val_fraction": None, "label_smoothing": None, "threads": None,
}

class DatasetInfo:
    """What the CLI knows about a dataset: description, file layout, and its training recipe
    (defaults that flags override): epochs, learning rate, label smoothing, validation share,
    augmentation (random crops with ``pad`` pixels of padding, horizontal flips), and the
    per-channel mean/std used to normalise inputs."""

    def __init__(self, description, files, epochs, lr, mean=None, std=None,
                 label_smoothing=0.0, val_fraction=0.1, augment=False, pad=4, flip=False):
        self.description, self.files = description, files
        self.epochs, self.lr, self.mean, self.std = epochs, lr, mean, std
        self.label_smoothing, self.val_fraction = label_smoothing, val_fraction
        self.augment, self.pad, self.flip = augment, pad, flip


DATASETS = {
    # digits: shifts of one pixel, label smoothing and all 1,438 training images (the test
    # split stays held out) and 50 epochs take LeNet-5 from ~97% to ~98.7% test accuracy
    "digits": DatasetInfo("UCI handwritten digits, 1,797 8x8 grey images, 10 classes "
                          "(embedded, offline)", "nothing to download: shipped inside svertka",
                          epochs=50, lr=3e-3, mean=(0.3055,), std=(0.3759,),
                          label_smoothing=0.1, val_fraction=0.0, augment=True, pad=1),
    "mnist": DatasetInfo("MNIST handwritten digits, 70,000 28x28 grey images, 10 classes",
                         "DATA_DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
                         epochs=5, lr=1e-3, mean=(0.1307,), std=(0.3081,)),
    "fashion-mnist": DatasetInfo("Fashion-MNIST clothing, 70,000 28x28 grey images, 10 classes",
                                 "DATA_DIR/FashionMNIST/raw/{train,t10k}-{images-idx3,"
                                 "labels-idx1}-ubyte[.gz]", epochs=10, lr=1e-3,
                                 mean=(0.2860,), std=(0.3530,)),
    "cifar10": DatasetInfo("CIFAR-10, 60,000 32x32 colour images, 10 classes",
                           "DATA_DIR/cifar-10-batches-py/ or DATA_DIR/cifar-10-python.tar.gz",
                           epochs=30, lr=1e-3, mean=(0.4914, 0.4822, 0.4465),
                           std=(0.2470, 0.2435, 0.2616), augment=True, flip=True),
    "cifar100": DatasetInfo("CIFAR-100, 60,000 32x32 colour images, 100 classes",
                            "DATA_DIR/cifar-100-python/ or DATA_DIR/cifar-100-python.tar.gz",
                            epochs=30, lr=1e-3, mean=(0.5071, 0.4865, 0.4409),
                            std=(0.2673, 0.2564, 0.2762), augment=True, flip=True),
    "folder": DatasetInfo("your own images: DATA_DIR/train/<class>/*.png and "
                          "DATA_DIR/test/<class>/... (Pillow needed: pip install "
                          "'svertka[images]')", "DATA_DIR/{train,test}/<class name>/<image "
                          "files>", epochs=10, lr=1e-3),
}


# ---------------------------------------------------------------------- data
def _dataset_class(name):
    from svertka.data import datasets as D

    classes = {"digits": "Digits", "mnist": "MNIST", "fashion-mnist": "FashionMNIST",
               "cifar10": "CIFAR10", "cifar100": "CIFAR100", "folder": "ImageFolder"}
    cls = getattr(D, classes.get(name, ""), None)
    if cls is None:
        raise CommandError(f"dataset {name!r} is not available in this version")
    return cls


def _transforms(info, augment, size=None, image_size=None):
    """(train transform, test transform) of a dataset recipe."""
    from svertka.data import transforms as T

    common = [T.ToTensor()]
    if info.mean is not None:
        common.append(T.Normalize(info.mean, info.std))
    head = [T.Resize((image_size, image_size))] if image_size else []
    train = list(head)
    if augment:
        train.append(T.RandomCrop(image_size or size, padding=info.pad))
        if info.flip:
            train.append(T.RandomHorizontalFlip())
    return T.Compose(train + common), T.Compose(head + common)


def build_datasets(name, data_dir=None, augment=None, download=False, image_size=None):
    """``(train, test, num_classes, input_shape)`` for a dataset name of the CLI.

    ``augment=None`` uses the dataset's recipe default. Raises :class:`CommandError` when the
    dataset's files are missing or refused by its reader, or when the splits are empty or
    their images differ in shape.
    """
    if name not in DATASETS:
        raise CommandError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    info = DATASETS[name]
    augment = info.augment if augment is None else augment
    cls = _dataset_class(name)
    if name == "folder" and data_dir is None:
        raise CommandError("--dataset folder needs --data-dir with train/ and test/ "
                           "sub-folders, one folder per class inside each")
    size = {"digits": 8, "folder": None}.get(name, 32 if name.startswith("cifar") else 28)
    train_tf, test_tf = _transforms(info, augment, size=size,
                                    image_size=(image_size or 32) if name == "folder" else None)
    with user_errors():  # the readers' errors name the file and what is wrong with it
        if name == "digits":
            train = cls(train=True, transform=train_tf)
            test = cls(train=False, transform=test_tf)
        elif name == "folder":
            # images are read lazily, while training: their errors must stay user errors
            train = cls(os.path.join(data_dir, "train"), transform=train_tf,
                        loader=_image_file_loader)
            test = cls(os.path.join(data_dir, "test"), transform=test_tf,
                       loader=_image_file_loader,
                       class_to_idx=train.class_to_idx)  # same name, same index
        else:
            root = data_dir or os.path.join(os.path.expanduser("~"), ".svertka", "data")
            train = cls(root, train=True, transform=train_tf, download=download)
            test = cls(root, train=False, transform=test_tf, download=download)
    for split, data in (("training", train), ("test", test)):
        if len(data) == 0:
            raise CommandError(f"the {split} set of {name} has no images (check the files "
                               f"in {data_dir or 'the data folder'})")
    from svertka.random import fork_rng

    shape = tuple(test[0][0].shape)
    with fork_rng(0):  # the training transform may be random: leave the run's stream alone
        train_shape = tuple(train[0][0].shape)
    if train_shape != shape:
        raise CommandError(f"the {name} training images are {'x'.join(map(str, train_shape))} "
                           f"but its test images {'x'.join(map(str, shape))}; both splits "
                           f"must have one image size")
    return train, test, len(train.classes), shape


def _image_file_loader(path):
    """ImageFolder's Pillow loader; a file it cannot read is the user's error, not a bug."""
    from svertka.data.datasets.folder import pil_loader

    with user_errors():
        return pil_loader(path, "RGB")


# ---------------------------------------------------------------------- commands
def _make_optimizer(name, params, lr, momentum, weight_decay):
    from svertka import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 1e-2)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise CommandError(f"unknown optimizer {name!r}; choose sgd, adam, adamw or rmsprop")


def _make_scheduler(name, optimizer, epochs, steps_per_epoch):
    from svertka.optim import lr_scheduler as S

    if name in (None, "none"):
        return None, "epoch"
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if name == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=optimizer.param_groups[0]["lr"],
                            total_steps=epochs * steps_per_epoch), "batch"
    if name == "plateau":
        return S.ReduceLROnPlateau(optimizer, factor=0.5, patience=2), "epoch"
    raise CommandError(f"unknown scheduler {name!r}; choose none, cosine, step, onecycle or "
                       f"plateau")


# the type each option must have in a config file (flags are typed by argparse)
_INT_OPTIONS = ("epochs", "batch_size", "patience", "seed", "num_workers", "threads")
_FLOAT_OPTIONS = ("lr", "momentum", "weight_decay", "clip_grad", "val_fraction",
                  "label_smoothing")
_BOOL_OPTIONS = ("augment", "download", "quiet")   # and strings for the others
_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
_SCHEDULERS = ("none", "cosine", "step", "onecycle", "plateau")


def _load_config(path):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except OSError as e:
        raise CommandError(f"config file {describe(e)}") from None
    except UnicodeDecodeError:
        raise CommandError(f"config file {path!r} is not UTF-8 text (a TOML file is)") from None
    except tomllib.TOMLDecodeError as e:
        raise CommandError(f"config file {path!r} is not valid TOML: {e}") from None
    config = config.get("train", config)
    if not isinstance(config, dict):
        raise CommandError(f"config file {path!r}: [train] must be a table of options")
    config = {k.replace("-", "_"): v for k, v in config.items()}
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise CommandError(f"config file {path!r} has unknown keys: {', '.join(unknown)} "
                           f"(known: {', '.join(sorted(DEFAULTS))})")
    for key, value in config.items():
        if key in _INT_OPTIONS:
            ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif key in _FLOAT_OPTIONS:
            ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
            value = float(value) if ok else value
        elif key in _BOOL_OPTIONS:
            ok, want = isinstance(value, bool), "true or false"
        else:
            ok, want = isinstance(value, str), "a string"
        if not ok:
            raise CommandError(f"config file {path!r}: {key} must be {want}, got "
                               f"{key} = {value!r}")
        config[key] = value
    return config


def _check_options(cfg):
    """Every training option's value, wherever it came from (flag, config file, checkpoint):
    a :class:`CommandError` naming the flag for the first one that cannot work."""
    from svertka import models

    def bad(flag, must):
        raise CommandError(f"--{flag.replace('_', '-')} must be {must}, got {cfg[flag]!r}")

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    def is_number(v):
        return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                and math.isfinite(v))

    if cfg["dataset"] not in DATASETS:
        raise CommandError(f"unknown dataset {cfg['dataset']!r}; choose from "
                           f"{', '.join(DATASETS)}")
    if cfg["model"] not in models.list_models():
        raise CommandError(f"unknown model {cfg['model']!r}; choose from "
                           f"{', '.join(models.list_models())} (see 'svertka models')")
    if cfg["optimizer"] not in _OPTIMIZERS:
        bad("optimizer", f"one of {', '.join(_OPTIMIZERS)}")
    if cfg["scheduler"] is not None and cfg["scheduler"] not in _SCHEDULERS:
        bad("scheduler", f"one of {', '.join(_SCHEDULERS)}")
    for key in ("data_dir", "out", "resume"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            bad(key, "a path")
    for key in ("epochs", "batch_size"):
        if not is_int(cfg[key]) or cfg[key] < 1:
            bad(key, "a positive integer")
    for key in ("patience", "threads"):
        if cfg[key] is not None and (not is_int(cfg[key]) or cfg[key] < 1):
            bad(key, "a positive integer")
    for key in ("seed", "num_workers"):
        if not is_int(cfg[key]) or cfg[key] < 0:
            bad(key, "a non-negative integer")
    for key in ("lr", "momentum", "weight_decay"):
        if not is_number(cfg[key]) or cfg[key] < 0:
            bad(key, "a finite number >= 0")
    if cfg["clip_grad"] is not None and (not is_number(cfg["clip_grad"])
                                         or cfg["clip_grad"] <= 0):
        bad("clip_grad", "a finite number > 0 (the largest gradient norm)")
    if not is_number(cfg["val_fraction"]) or not 0 <= cfg["val_fraction"] < 1:
        bad("val_fraction", "a number in [0, 1) (a share of the training set)")
    if not is_number(cfg["label_smoothing"]) or not 0 <= cfg["label_smoothing"] <= 1:
        bad("label_smoothing", "a number in [0, 1]")
    for key in _BOOL_OPTIONS:
        if not isinstance(cfg[key], bool):
            bad(key, "true or false")


def _resolve(args):
    """Command-line flags override the config file, which overrides the defaults."""
    values = dict(DEFAULTS)
    if getattr(args, "config", None):
        values.update(_load_config(args.config))
    for key in DEFAULTS:
        v = getattr(args, key, None)
        if v is not None and not (v is False and key in ("download", "quiet")):
            values[key] = v
    info = DATASETS.get(values["dataset"])
    if info is not None:
        for key in ("epochs", "lr", "label_smoothing", "val_fraction", "augment"):
            if values[key] is None:
                values[key] = getattr(info, key)
    return values


def cmd_train(args):
    """``svertka train``: train a model on a dataset, then save it and its history."""
    cfg = _resolve(args)
    _check_options(cfg)
    if getattr(args, "nproc", None) is not None:
        return _launch_mpi(args, cfg)
    from svertka import distributed as dist

    if dist.is_mpi_launch():
        return _train_rank(args, cfg)
    if cfg["threads"]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(cfg["threads"]):
            return _train(args, cfg)
    return _train(args, cfg)


def _launch_mpi(args, cfg):
    """``--nproc N``: run this same command as N ranks under ``mpiexec`` on this machine."""
    import shutil
    import subprocess

    from svertka import distributed as dist

    n = args.nproc
    if n < 1:
        raise CommandError(f"--nproc must be a positive int, got {n}")
    if dist.is_mpi_launch():
        raise CommandError("--nproc starts mpiexec itself; under mpiexec leave it out")
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = here if os.path.exists(here) else shutil.which("mpiexec")
    if mpiexec is None or not dist.is_available():
        raise CommandError(f"--nproc {n} needs mpi4py and an MPI runtime with mpiexec; "
                           f'install them with: pip install "svertka[mpi]"')
    argv, skip = [], False
    for a in args.argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            argv.append(a)
    threads = cfg["threads"] or max(1, (os.cpu_count() or 1) // n)
    if not cfg["threads"]:
        argv += ["--threads", str(threads)]
    if not cfg["out"] and not cfg["resume"]:
        # one run folder name for every rank (each would read its own clock)
        argv += ["--out", os.path.join("runs", f"{cfg['dataset']}-{cfg['model']}-"
                                       f"{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [mpiexec, "-n", str(n), sys.executable, "-m", "svertka", *argv]
    # Ctrl-C reaches mpiexec from the terminal and it forwards it to the ranks (rank 0 saves
    # interrupted.svk); this process only waits for mpiexec's exit status
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(cmd, env=env).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def _train_rank(args, cfg):
    """One rank of a data-parallel run; a failing rank ends the whole job (MPI abort)."""
    from svertka import backends
    from svertka import distributed as dist

    dist.init_process_group("mpi")
    if cfg["threads"]:
        from threadpoolctl import threadpool_limits

        backends.set_num_threads(cfg["threads"])
        limits = threadpool_limits(cfg["threads"])
    else:
        limits = contextlib.nullcontext()
    try:
        with limits:
            code = _train(args, cfg)
    except (CommandError, OSError) as e:
        print(" ".join(f"svertka train: {describe(e)}".split()), file=sys.stderr)
        code = 2
    if code == 130 and getattr(args, "agreed_interrupt", False):
        # Ctrl-C during training: every rank stopped after the same step (train's agreed
        # interrupt) and rank 0 saved interrupted.svk; the ranks leave together
        dist.barrier()
        dist.destroy_process_group()
        return code
    if code != 0 and dist.get_world_size() > 1:
        # this rank stops here; the others would wait for it in the next collective. After
        # a Ctrl-C outside training (the final evaluation) rank 0 may still be writing: the
        # other ranks give it a few seconds
        sys.stdout.flush()
        sys.stderr.flush()
        if code == 130 and dist.get_rank() != 0:
            time.sleep(10)
        dist._State.comm.Abort(code)
    return code


def _train(args, cfg):
    import svertka
    from svertka import distributed as dist
    from svertka import models, train
    from svertka.data import DataLoader, DistributedSampler, random_split

    resume_state = resume_path = None
    if cfg["resume"]:
        resume_path = cfg["resume"]
        if os.path.isdir(resume_path):
            resume_path = os.path.join(resume_path, "last.svk")
        resume_state = _load_checkpoint(resume_path)
        saved = resume_state.get("config", {})
        if not isinstance(saved, dict):
            raise CommandError(f"{resume_path}: the checkpoint's 'config' is not a table of "
                               f"options; it was not written by 'svertka train'")
        # the run continues with its own configuration; flags may extend epochs
        for key in ("model", "dataset", "batch_size", "optimizer", "lr", "scheduler", "seed",
                    "val_fraction", "augment", "label_smoothing", "momentum", "weight_decay",
                    "data_dir"):
            if key in saved:
                cfg[key] = saved[key]
        if args.epochs is None and "epochs" in saved:
            cfg["epochs"] = saved["epochs"]
        cfg["out"] = cfg["out"] or os.path.dirname(os.path.abspath(resume_path))
        _check_options(cfg)
    svertka.manual_seed(cfg["seed"])
    train_set, test_set, num_classes, input_shape = build_datasets(
        cfg["dataset"], cfg["data_dir"], cfg["augment"], cfg["download"])
    n_val = int(round(len(train_set) * cfg["val_fraction"])) if cfg["val_fraction"] else 0
    if n_val >= len(train_set):
        raise CommandError(f"--val-fraction {cfg['val_fraction']:g} holds out all "
                           f"{len(train_set)} training images; nothing is left to train on")
    if n_val:
        train_part, val_part = random_split(train_set, [len(train_set) - n_val, n_val],
                                            generator=cfg["seed"])
    else:
        train_part, val_part = train_set, None
    model = _build_model(models, cfg["model"], num_classes, input_shape, cfg["dataset"])
    # data-parallel (under mpiexec): --batch-size is per rank, as in torch; evaluation shards
    # hold each image once
    parallel = dist.is_initialized() and dist.get_world_size() > 1
    main_rank = train.is_main_process()
    if parallel:
        sampler = DistributedSampler(train_part, shuffle=True, seed=cfg["seed"])
        loader = DataLoader(train_part, batch_size=cfg["batch_size"], sampler=sampler,
                            num_workers=cfg["num_workers"])
    else:
        loader = DataLoader(train_part, batch_size=cfg["batch_size"], shuffle=True,
                            num_workers=cfg["num_workers"])
    val_loader = (DataLoader(train.shard_for_evaluation(val_part), batch_size=256)
                  if val_part is not None else None)
    test_loader = DataLoader(train.shard_for_evaluation(test_set), batch_size=256)
    optimizer = _make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"],
                                cfg["momentum"], cfg["weight_decay"])
    scheduler, sched_step = _make_scheduler(cfg["scheduler"], optimizer, cfg["epochs"],
                                            len(loader))
    out = cfg["out"] or os.path.join(
        "runs", f"{cfg['dataset']}-{cfg['model']}-"
                f"{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CommandError(f"--out {out} is a file; the run folder must be a directory")
    if main_rank:
        os.makedirs(out, exist_ok=True)
    start_epoch, history = 0, None
    if resume_state is not None:
        with user_errors(what=resume_path):  # a checkpoint of another model or optimizer
            train.load_checkpoint(resume_path, model, optimizer, scheduler)
        start_epoch = int(resume_state.get("epoch", 0))
        h = resume_state.get("history") or {}
        history = train.History(list(h.get("epochs", [])), h.get("best_epoch"),
                                h.get("best_val_loss", float("inf")))
    net = svertka.nn.parallel.DistributedDataParallel(model) if parallel else model
    say = (lambda *a: None) if cfg["quiet"] or not main_rank else print
    n_params = sum(p.numel() for p in model.parameters())
    say(f"svertka {svertka.__version__}: training {cfg['model']} ({n_params:,} parameters) on "
        f"{cfg['dataset']} ({len(train_part)} train, {n_val} validation, {len(test_set)} test "
        f"images of {'x'.join(map(str, input_shape))}), {cfg['epochs']} epochs, "
        f"{cfg['optimizer']} lr={cfg['lr']:g}, batch {cfg['batch_size']}, seed {cfg['seed']}"
        + (f", {dist.get_world_size()} processes (batch {cfg['batch_size']} each)"
           if parallel else ""))
    if start_epoch:
        say(f"resuming from epoch {start_epoch}")
    config_record = {k: cfg[k] for k in DEFAULTS if k not in ("quiet", "resume")}
    config_record.update(classes=[str(c) for c in train_set.classes],
                         input_shape=list(input_shape))
    t0 = time.perf_counter()
    smoothing = cfg["label_smoothing"] or 0.0

    def loss_fn(logits, target):
        return svertka.nn.functional.cross_entropy(logits, target, label_smoothing=smoothing)

    try:
        history = train.fit(net, loader, val_loader, optimizer=optimizer, loss_fn=loss_fn,
                            epochs=cfg["epochs"], scheduler=scheduler, scheduler_step=sched_step,
                            clip_grad_norm=cfg["clip_grad"], patience=cfg["patience"],
                            out_dir=out, start_epoch=start_epoch, history=history,
                            progress=train.progress_enabled(cfg["quiet"]),
                            log=say, num_classes=num_classes,
                            checkpoint_extra={"config": config_record})
    except train.TrainingDiverged as e:
        # not a mistake on the command line: the run started and failed (status 1)
        print(f"svertka train: {describe(e)}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0
    summary = {"model": cfg["model"], "dataset": cfg["dataset"],
               "epochs": len(history.epochs), "seconds": seconds,
               "best_epoch": history.best_epoch, "stopped": history.stopped,
               "parameters": n_params, "classes": list(train_set.classes),
               "config": config_record}
    try:
        if parallel and history.stopped == "interrupted":
            # the ranks stopped together after the same step (fit's agreed interrupt); the
            # user asked to stop, so no final evaluation ('svertka evaluate' measures the
            # checkpoints)
            args.agreed_interrupt = True
            raise KeyboardInterrupt
        metrics = train.evaluate(net, test_loader, num_classes, desc="test",
                                 progress=main_rank and train.progress_enabled(cfg["quiet"]))
    except KeyboardInterrupt:
        # the checkpoints are kept: 'svertka evaluate' can measure them later
        summary.update(stopped="interrupted", test_accuracy=None, test_loss=None)
        if main_rank:
            train.write_json(os.path.join(out, "metrics.json"), summary)
            when = ("during training" if parallel and history.stopped == "interrupted"
                    else "during the final evaluation")
            print(f"svertka train: interrupted {when}; the checkpoints are in {out} (svertka "
                  f"evaluate {os.path.join(out, 'best.svk')})", file=sys.stderr)
        return 130
    summary.update(test_accuracy=metrics["accuracy"], test_loss=metrics["loss"],
                   test_top5_accuracy=metrics["top5_accuracy"],
                   confusion_matrix=metrics["confusion_matrix"],
                   precision=metrics["precision"], recall=metrics["recall"],
                   test_samples=metrics["samples"])
    if not main_rank:
        return 130 if history.stopped == "interrupted" else 0
    train.write_json(os.path.join(out, "metrics.json"), summary)
    say(f"test accuracy {metrics['accuracy']:.4f}  test loss {metrics['loss']:.4f}  "
        f"({len(history.epochs)} epochs, {seconds:.1f}s)")
    say(format_confusion(np.asarray(metrics["confusion_matrix"]), train_set.classes))
    pictures = _save_pictures(out, history, metrics, model, train_set.classes)
    say(f"run folder: {out} (metrics.json, log.csv, best.svk, last.svk"
        + (", " + ", ".join(pictures) if pictures else "") + ")")
    return 130 if history.stopped == "interrupted" else 0


def format_confusion(cm, classes):
    """The confusion matrix as text: rows are true classes, columns predictions."""
    if len(classes) > 20:
        return f"(confusion matrix of {len(classes)} classes: see metrics.json)"
    names = [str(c)[:6] for c in classes]
    width = max(4, max(len(n) for n in names), len(str(cm.max())))
    lines = ["confusion matrix (rows: true class, columns: predicted)",
             " " * (width + 1) + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, cm):
        lines.append(name.rjust(width) + " " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _save_pictures(out, history, metrics, model, classes):
    try:
        from svertka import viz
    except ImportError:
        return []
    if not viz.available():
        return []
    saved = []
    saved += viz.save_training_curves(history.epochs, os.path.join(out, "curves.png"))
    saved += viz.save_confusion_matrix(np.asarray(metrics["confusion_matrix"]), classes,
                                       os.path.join(out, "confusion.png"))
    saved += viz.save_first_layer_filters(model, os.path.join(out, "filters.png"))
    return [os.path.basename(p) for p in saved]


def _build_model(models, name, num_classes, input_shape, dataset):
    """The model for a dataset, tried on one blank sample: a model that cannot take the
    dataset's images (channels, or too small for its pooling) is the user's choice, and is
    said before any training starts, not as a traceback from the first batch."""
    import svertka

    what = f"model {name!r} on {dataset} images of {'x'.join(map(str, input_shape))}"
    with user_errors(ValueError, what=what):
        model = models.get_model(name, num_classes=num_classes, in_channels=input_shape[0],
                                 input_size=input_shape)
        was_training = model.training
        model.eval()
        with svertka.no_grad():
            model(svertka.zeros(1, *input_shape))
        model.train(was_training)
    return model


def _load_checkpoint(path):
    """``svertka.load`` of a user's checkpoint: a missing, unreadable or invalid file is a
    :class:`CommandError` naming it."""
    import svertka

    with user_errors():
        state = svertka.load(path)
    if not isinstance(state, dict):
        raise CommandError(f"{path}: holds a {type(state).__name__}, not a training "
                           f"checkpoint; it was not written by 'svertka train'")
    return state


def _load_run(checkpoint):
    from svertka import models

    if os.path.isdir(checkpoint):
        checkpoint = os.path.join(checkpoint, "best.svk")
    state = _load_checkpoint(checkpoint)
    config = state.get("config")
    if not isinstance(config, dict) or not isinstance(state.get("model"), dict):
        raise CommandError(f"{checkpoint}: has no run configuration or model state; it was "
                           f"not written by 'svertka train'")
    missing = [k for k in ("model", "dataset", "classes", "input_shape") if k not in config]
    if missing:
        raise CommandError(f"{checkpoint}: its run configuration lacks {', '.join(missing)}; "
                           f"it was not written by 'svertka train'")
    return state, config, models


def _model_of_run(models, state, config, num_classes, shape, checkpoint):
    with user_errors(ValueError, what=checkpoint):  # a configuration or state of another model
        model = models.get_model(config["model"], num_classes=num_classes,
                                 in_channels=shape[0], input_size=shape)
        model.load_state_dict(state["model"])
    return model


def cmd_evaluate(args):
    """``svertka evaluate``: the loss and accuracy of a saved model on a dataset."""
    from svertka import train
    from svertka.data import DataLoader

    state, config, models = _load_run(args.checkpoint)
    _, test_set, num_classes, input_shape = build_datasets(
        config["dataset"], args.data_dir or config.get("data_dir"))
    model = _model_of_run(models, state, config, num_classes, input_shape, args.checkpoint)
    metrics = train.evaluate(model, DataLoader(test_set, batch_size=256), num_classes)
    print(f"{config['model']} on {config['dataset']} test set: accuracy "
          f"{metrics['accuracy']:.4f}, top-5 {metrics['top5_accuracy']:.4f}, loss "
          f"{metrics['loss']:.4f} ({metrics['samples']} images)")
    print(format_confusion(np.asarray(metrics["confusion_matrix"]), test_set.classes))
    if args.json:
        print(json.dumps({k: metrics[k] for k in ("accuracy", "top5_accuracy", "loss")}))
    return 0


def _read_image(path, shape):
    """An image file as the model's input ``(1, C, H, W)`` float32 in [0, 1].

    ``.npy`` files hold one image, ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``: uint8 in 0..255
    or real numbers in [0, 1]. Other files are read with Pillow and resized to the model's
    input. A file that cannot be read, or holds something else, is a :class:`CommandError`.
    """
    c, h, w = shape
    if path.endswith(".npy"):
        with user_errors(what=path):
            raw = np.load(path, allow_pickle=False)
        if raw.dtype.kind not in "biuf":  # complex (its imaginary part), strings, records
            raise CommandError(f"{path}: an array of {raw.dtype}; an image is an array of "
                               f"uint8 (0..255) or real numbers in [0, 1]")
        arr = raw.astype(np.float32) / (255.0 if raw.dtype == np.uint8 else 1.0)
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim == 3 and arr.shape[-1] in (1, 3) and arr.shape[0] not in (1, 3):
            arr = arr.transpose(2, 0, 1)
        if arr.shape != (c, h, w):
            raise CommandError(f"{path}: array of shape {arr.shape}, the model expects "
                               f"{(c, h, w)}")
        return arr[None]
    try:
        from PIL import Image
    except ImportError:
        raise CommandError("reading images needs Pillow: pip install 'svertka[images]' "
                           "(or pass .npy arrays)") from None
    # Pillow raises many kinds for a broken file (OSError, SyntaxError, ValueError, its
    # DecompressionBombError...); any error while decoding the user's file is about the file.
    # Its decompression-bomb warning (images past ~89 megapixels) is refused as well.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    except FileNotFoundError as e:
        raise CommandError(describe(e)) from None
    except Exception as e:  # noqa: BLE001 - see above: a third-party decoder of user data
        raise CommandError(f"cannot read image {path}: {describe(e)}") from None
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return (arr[None] if c == 1 else arr.transpose(2, 0, 1))[None]


def _pretrained_image(path, transform):
    """An image file through a pretrained model's ``transform``: ``(1, 3, H, W)``. ``.npy``
    files hold one uint8 image ``(H, W)`` or ``(H, W, C)``; other files are read with Pillow."""
    if path.endswith(".npy"):
        with user_errors(what=path):
            raw = np.load(path, allow_pickle=False)
        if raw.dtype != np.uint8 or raw.ndim not in (2, 3) or (
                raw.ndim == 3 and raw.shape[2] not in (1, 3, 4)):
            raise CommandError(f"{path}: an array of {raw.dtype} with shape {raw.shape}; a "
                               f"pretrained model reads uint8 images (H, W) or (H, W, C)")
        return transform(raw).unsqueeze(0)
    try:
        from PIL import Image
    except ImportError:
        raise CommandError("reading images needs Pillow: pip install 'svertka[images]' "
                           "(or pass .npy arrays)") from None
    try:  # as in _read_image: any error while decoding the user's file is about the file
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = img.convert("RGB")
    except FileNotFoundError as e:
        raise CommandError(describe(e)) from None
    except Exception as e:  # noqa: BLE001 - a third-party decoder of user data
        raise CommandError(f"cannot read image {path}: {describe(e)}") from None
    return transform(img).unsqueeze(0)


def _predict_pretrained(args, images):
    """``predict --model NAME --weights W``: a zoo model with published weights (a name of
    its weights enum) or a weights file, the weights' preprocessing and class names."""
    import svertka
    from svertka import models
    from svertka.models import weights as W
    from svertka.nn import functional as F

    if args.model not in models.list_models():
        raise CommandError(f"unknown model {args.model!r}; see 'svertka models'")
    _check_explain(args, images)
    if args.weights is None:
        raise CommandError("--model needs --weights (a weights name such as DEFAULT, or a "
                           ".pth/.svk/.safetensors file)")
    with user_errors(what=f"--weights {args.weights}"):  # a bad name or file, no network
        chosen = W.resolve(args.model, args.weights)
        model = models.get_model(args.model, weights=chosen)
    published = chosen
    if not isinstance(published, W.Weights) and args.model in W.list_weights():
        published = W.get_model_weights(args.model).DEFAULT.value  # a file of that model
    model.eval()
    for path in images:
        if isinstance(published, W.Weights):
            x = _pretrained_image(path, published.transforms())
            classes = published.meta["categories"]
        else:
            x = svertka.tensor(_read_image(path, models.model_info(args.model)["input_size"]))
            classes = None
        with svertka.no_grad():
            probs = F.softmax(model(x), dim=1).numpy()[0]
        if classes is not None and len(classes) != probs.shape[0]:
            classes = None
        if len(images) > 1:
            print(f"{path}:")
        for i in np.argsort(-probs, kind="stable")[:args.top or 5]:
            print(f"{classes[i] if classes else i} {probs[i]:.3f}")
        _explain(args, model, x, path, int(np.argmax(probs)))
    return 0


def _check_explain(args, images):
    """``--layer``/``--out`` need ``--explain``; ``--out`` names one picture."""
    explain = getattr(args, "explain", None)
    if explain is None:
        for flag in ("layer", "out"):
            if getattr(args, flag, None) is not None:
                raise CommandError(f"--{flag} needs --explain gradcam")
        return
    if args.out is not None and len(images) > 1:
        raise CommandError(f"--out names one picture, but {len(images)} images were given; "
                           f"leave it out to write IMAGE.gradcam.png next to each image")
    from svertka import viz

    if not viz.available():
        raise CommandError("--explain needs matplotlib: pip install 'svertka[viz]'")


def _explain(args, model, x, path, target):
    """``--explain gradcam``: the Grad-CAM picture of ``x`` for class ``target``."""
    if getattr(args, "explain", None) is None:
        return
    from svertka import viz

    layer = args.layer if args.layer is not None else viz.default_cam_layer(model)
    if layer is None:
        raise CommandError("--explain gradcam: the model has no convolution; name a layer "
                           "with --layer")
    out = args.out or f"{os.path.splitext(str(path))[0]}.gradcam.png"
    with user_errors(what="--explain gradcam"):  # an unknown --layer, an unwritable --out
        viz.save_grad_cam(model, x, layer, out, target=target)
    print(f"{path}: Grad-CAM of class {target} at layer {layer!r} written to {out}")


def cmd_predict(args):
    """``svertka predict``: the top classes of a model for images."""
    import svertka
    from svertka.nn import functional as F

    if args.model is not None:
        return _predict_pretrained(args, [args.checkpoint] + args.images)
    if args.weights is not None:
        raise CommandError("--weights needs --model (the zoo model the weights are for)")
    if not args.images:
        raise CommandError("give the image files after the checkpoint (or use --model NAME "
                           "--weights W IMAGE...)")
    _check_explain(args, args.images)
    args.top = args.top or 3
    state, config, models = _load_run(args.checkpoint)
    classes = config["classes"]
    shape = tuple(config["input_shape"])
    num_classes = len(classes)
    model = _model_of_run(models, state, config, num_classes, shape, args.checkpoint)
    model.eval()
    for path in args.images:
        arr = _read_image(path, shape)
        info = DATASETS.get(config["dataset"])
        if info is not None and info.mean is not None:  # the normalisation training used
            arr = (arr - np.asarray(info.mean, np.float32).reshape(1, -1, 1, 1)) / np.asarray(
                info.std, np.float32).reshape(1, -1, 1, 1)
        x = svertka.tensor(arr)
        with svertka.no_grad():
            probs = F.softmax(model(x), dim=1).numpy()[0]
        top = np.argsort(-probs)[:args.top]
        text = ", ".join(f"{classes[i] if classes else i} {probs[i]:.3f}" for i in top)
        print(f"{path}: {text}")
        _explain(args, model, x, path, int(top[0]))
    return 0


# ---------------------------------------------------------------------- ONNX models
def _onnx_or(command, onnx_command, arg):
    """``command``, or ``onnx_command`` when the file argument ``arg`` names a ``.onnx``."""
    def run(args):
        if str(getattr(args, arg)).lower().endswith(".onnx"):
            return onnx_command(args)
        return command(args)
    return run


def _load_onnx(path):
    import svertka.onnx

    with user_errors((ImportError,) + FILE_ERRORS):
        return svertka.onnx.load(path)


def _onnx_sample_shape(model, path):
    """The declared shape of the model's one input, without the batch axis."""
    if len(model.input_names) != 1:
        raise CommandError(f"{path}: the model has {len(model.input_names)} inputs, only "
                           "models with one input are supported")
    shape = model.input_shapes[0]
    if shape is None or len(shape) < 2 or any(d is None for d in shape[1:]):
        raise CommandError(f"{path}: the input's shape {shape} is not fixed; pass --input "
                           "CxHxW")
    return tuple(shape[1:])


def _cmd_summary_onnx(args):
    from svertka.analysis.cli import parse_input_size
    from svertka.analysis.summary import summary

    if args.num_classes is not None:
        raise CommandError("--num-classes does not apply to an ONNX model")
    model = _load_onnx(args.model)
    with user_errors(ValueError):
        size = (parse_input_size(args.input) if args.input is not None
                else _onnx_sample_shape(model, args.model))
        s = summary(model, size)
    print(json.dumps(s.to_dict(), indent=1) if args.json else s)
    return 0


def _cmd_predict_onnx(args):
    import svertka
    from svertka.nn import functional as F

    if args.model is not None or args.weights is not None:
        raise CommandError("--model and --weights are for zoo models, not for an ONNX file")
    if not args.images:
        raise CommandError("give the image files after the ONNX model")
    args.top = args.top or 3
    model = _load_onnx(args.checkpoint)
    shape = _onnx_sample_shape(model, args.checkpoint)
    if len(shape) != 3:
        raise CommandError(f"{args.checkpoint}: predict needs an image input (C, H, W), the "
                           f"model's input is {shape}")
    # the class names and normalisation svertka export recorded; pixels in [0, 1] otherwise
    classes, mean, std = _onnx_metadata(args.checkpoint)
    for path in args.images:
        arr = _read_image(path, shape)
        if mean is not None and std is not None and len(mean) == len(std) == shape[0]:
            arr = (arr - np.asarray(mean, np.float32).reshape(1, -1, 1, 1)) / np.asarray(
                std, np.float32).reshape(1, -1, 1, 1)
        x = svertka.tensor(arr)
        with svertka.no_grad(), user_errors(ValueError, what=args.checkpoint):
            out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        probs = F.softmax(out.reshape(1, -1), dim=1).numpy()[0]
        top = np.argsort(-probs)[:args.top]
        names = classes if classes is not None and len(classes) == probs.size else None
        print(f"{path}: " + ", ".join(f"{names[i] if names else i} {probs[i]:.3f}"
                                      for i in top))
    return 0


def cmd_models(args):
    """``svertka models``: list the model zoo."""
    from svertka import models

    for name in models.list_models():
        info = models.model_info(name) if hasattr(models, "model_info") else {}
        desc = info.get("description", "") if isinstance(info, dict) else ""
        print(f"{name:20s} {desc}")
    return 0


def cmd_datasets(args):
    """``svertka datasets``: list the known datasets and their files."""
    for name, info in DATASETS.items():
        print(f"{name:14s} {info.description}\n{'':14s} files: {info.files}\n{'':14s} "
              f"defaults: {info.epochs} epochs, lr {info.lr:g}"
              + (", augmentation" if info.augment else "")
              + (f", label smoothing {info.label_smoothing}" if info.label_smoothing else ""))
    print("\nDATA_DIR is --data-dir (default ~/.svertka/data); --download fetches the standard "
          "files and checks their checksums.")
    return 0


def _input_shape(text):
    """argparse type: a sample shape such as ``1x28x28`` (C x H x W, or C x L)."""
    parts = text.lower().split("x")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected positive sizes like 1x28x28 (C x H x W), "
                                         f"got {text!r}")
    return tuple(int(p) for p in parts)


def cmd_export(args):
    """``svertka export``: a checkpoint of ``svertka train`` written as an ONNX model."""
    import svertka

    try:
        import onnx  # noqa: F401
        from svertka.onnx import export
    except ImportError:
        raise CommandError("writing ONNX needs the onnx package: pip install "
                           "'svertka[onnx]'") from None
    state, config, models = _load_run(args.checkpoint)
    shape = tuple(config["input_shape"])
    model = _model_of_run(models, state, config, len(config["classes"]), shape,
                          args.checkpoint)
    sample = args.input or shape
    if sample[0] != shape[0]:
        raise CommandError(f"--input {'x'.join(map(str, sample))} has {sample[0]} channels, "
                           f"the model of {args.checkpoint} takes {shape[0]}")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write {args.output}: the folder {folder} does not exist")
    x = svertka.zeros(1, *sample)
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if args.dynamic_batch else None
    # the model cannot take that input size, or holds an op without an ONNX counterpart
    with user_errors(ValueError, what=f"{config['model']} on a {'x'.join(map(str, sample))} "
                                      f"input"):
        export(model, x, args.output, opset_version=args.opset, dynamic_axes=dynamic)
    batch = "N" if args.dynamic_batch else "1"
    info = DATASETS.get(config["dataset"])
    meta = {"svertka.classes": json.dumps(list(config["classes"] or []))}
    if info is not None and info.mean is not None:
        meta["svertka.mean"] = json.dumps(list(info.mean))
        meta["svertka.std"] = json.dumps(list(info.std))
    _add_onnx_metadata(args.output, meta)
    print(f"{args.output}: {config['model']}, input 'input' float32 "
          f"{'x'.join([batch, *map(str, sample)])}, output 'output', opset {args.opset}")
    if info is not None and info.mean is not None:
        print(f"inputs are images in [0, 1] normalised as in training: mean {list(info.mean)}, "
              f"std {list(info.std)} (kept in the file's metadata, which svertka predict "
              f"reads)")
    return 0


def _add_onnx_metadata(path, meta):
    """Record ``meta`` (str -> str) in the ONNX file's ``metadata_props``, the standard place
    for a model's own notes: the class names and the input normalisation of its training run,
    so that ``svertka predict model.onnx`` prepares images as training did. Rewritten
    atomically."""
    import onnx

    model = onnx.load(path)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _onnx_metadata(path):
    """``(classes, mean, std)`` that ``svertka export`` recorded in the file (None each where
    absent or unreadable: files from other exporters)."""
    try:
        import onnx

        props = {p.key: p.value for p in onnx.load(path, load_external_data=False)
                 .metadata_props}
        classes = json.loads(props["svertka.classes"]) if "svertka.classes" in props else None
        mean = json.loads(props["svertka.mean"]) if "svertka.mean" in props else None
        std = json.loads(props["svertka.std"]) if "svertka.std" in props else None
    except (ImportError, OSError, ValueError):
        return None, None, None
    return classes or None, mean, std


# ---------------------------------------------------------------------- explain
def _explain_samples(dataset, data_dir, info, count=24):
    """Up to ``count`` test images of a run's dataset, in [0, 1] (the recipe's normalisation
    undone), with their labels; None when the dataset's files are not here."""
    try:
        _, test_set, _, _ = build_datasets(dataset, data_dir)
    except CommandError:
        return None
    n = min(count, len(test_set))
    items = [test_set[k] for k in range(n)]  # a few dozen images, read one by one
    images = np.stack([np.asarray(x.numpy() if hasattr(x, "numpy") else x, np.float32)
                       for x, _ in items])  # (N, C, H, W)
    if info is not None and info.mean is not None:
        c = images.shape[1]
        images = images * np.asarray(info.std, np.float32).reshape(1, c, 1, 1) + np.asarray(
            info.mean, np.float32).reshape(1, c, 1, 1)
    return np.clip(images, 0, 1), np.asarray([int(y) for _, y in items])


def _explain_session(args):
    """The :class:`svertka.explain.Session` of ``svertka explain``'s arguments."""
    from svertka import models
    from svertka.explain.session import Session
    from svertka.models import weights as W

    if args.model is not None:
        if args.target is not None:
            raise CommandError("give a run/checkpoint or --model NAME, not both")
        if args.model not in models.list_models():
            raise CommandError(f"unknown model {args.model!r}; see 'svertka models'")
        shape = tuple(models.model_info(args.model)["input_size"])
        if args.weights is None:  # an untrained model: shapes, fields, the explorer
            with user_errors(ValueError, what=f"model {args.model!r}"):
                model = models.get_model(args.model)
            return Session(model, shape, [str(i) for i in range(_num_outputs(model, shape))],
                           name=f"{args.model} (untrained)")
        with user_errors(what=f"--weights {args.weights}"):  # a bad name or file, no network
            chosen = W.resolve(args.model, args.weights)
            model = models.get_model(args.model, weights=chosen)
        if isinstance(chosen, W.Weights):
            t = chosen.transforms()
            return Session(model, (3, t.crop_size, t.crop_size), chosen.meta["categories"],
                           name=f"{args.model} ({args.weights})", mean=t.mean, std=t.std,
                           preprocess=t)
        return Session(model, shape, [str(i) for i in range(_num_outputs(model, shape))],
                       name=f"{args.model} ({args.weights})")
    if args.weights is not None:
        raise CommandError("--weights needs --model (the zoo model the weights are for)")
    if args.target is None:
        raise CommandError("give a run folder or checkpoint of 'svertka train', or --model NAME")
    if args.target.endswith(".onnx"):
        raise CommandError(f"{args.target}: ONNX models are not supported by explain; give a "
                           f"checkpoint of 'svertka train' or --model NAME")
    state, config, models = _load_run(args.target)
    classes, shape = config["classes"], tuple(config["input_shape"])
    model = _model_of_run(models, state, config, len(classes), shape, args.target)
    info = DATASETS.get(config["dataset"])
    return Session(model, shape, classes, name=f"{config['model']} on {config['dataset']}",
                   mean=info.mean if info else None, std=info.std if info else None,
                   samples=_explain_samples(config["dataset"], config.get("data_dir"), info),
                   dataset=config["dataset"])


def _num_outputs(model, shape):
    import svertka

    with svertka.no_grad():
        return int(np.prod(model.eval()(svertka.zeros(1, *shape)).shape[1:]))


def cmd_explain(args):
    """``svertka explain``: serve the page and JSON API that look inside a model."""
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be in 0..65535, got {args.port}")
    try:
        import flask  # noqa: F401
    except ImportError:
        raise CommandError("explain needs Flask: pip install 'svertka[web]'") from None
    session = _explain_session(args)
    from svertka.explain.app import serve

    with user_errors(OSError, what=f"cannot listen on {args.host}:{args.port}"):
        serve(session, args.host, args.port)
    return 0


# ---------------------------------------------------------------------- parser
class _UsageError(Exception):
    def __init__(self, prog, message):
        super().__init__(f"{prog}: {message}")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (``svertka train: argument --epochs: ...``)
    like every other user error, instead of the usage block and an exit from inside."""

    def error(self, message):
        raise _UsageError(self.prog, f"{message} (see '{self.prog} --help')")


def positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def build_parser():
    """The ``svertka`` command's argument parser, with one subcommand per ``cmd_*``."""
    parser = _Parser(
        prog="svertka", description="svertka: train and inspect convolutional networks in "
                                    "NumPy. Run 'svertka train' to train LeNet-5 on the "
                                    "embedded handwritten digits.")
    from svertka import __version__

    parser.add_argument("--version", action="version", version=f"svertka {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on a dataset",
                       description="Train a model; writes a run folder with metrics.json, "
                                   "log.csv, checkpoints and (with matplotlib) pictures. "
                                   "Flags override --config, which overrides the defaults.")
    p.add_argument("--model", help="a model of 'svertka models' (default lenet5)")
    p.add_argument("--dataset", help="a dataset of 'svertka datasets' (default digits)")
    p.add_argument("--data-dir", dest="data_dir", help="where the dataset files are")
    p.add_argument("--download", action="store_true", help="download missing dataset files")
    p.add_argument("--epochs", type=int, help="number of epochs (default per dataset)")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="default 32")
    p.add_argument("--lr", type=float, help="learning rate (default per dataset)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop"],
                   help="default adam")
    p.add_argument("--momentum", type=float, help="for sgd and rmsprop (default 0.9)")
    p.add_argument("--weight-decay", dest="weight_decay", type=float, help="default 0")
    p.add_argument("--scheduler", choices=["none", "cosine", "step", "onecycle", "plateau"],
                   help="learning-rate schedule (default cosine)")
    p.add_argument("--clip-grad", dest="clip_grad", type=float,
                   help="clip the gradient norm to this value")
    p.add_argument("--patience", type=int, help="early stopping after this many epochs "
                                                "without validation improvement")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="random crops (and flips on CIFAR); default per dataset")
    p.add_argument("--label-smoothing", dest="label_smoothing", type=float,
                   help="cross-entropy label smoothing (default per dataset)")
    p.add_argument("--val-fraction", dest="val_fraction", type=float,
                   help="share of the training set held out for validation (default per "
                        "dataset: 0 for digits, 0.1 otherwise)")
    p.add_argument("--num-workers", dest="num_workers", type=int,
                   help="threads preparing batches (default 0: one background thread)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--threads", type=int,
                   help="BLAS threads for NumPy's matrix products (default: BLAS's own "
                        "choice; 1 is often faster for small models on a busy machine)")
    p.add_argument("--out", help="run folder (default runs/DATASET-MODEL-TIME)")
    p.add_argument("--resume", help="a checkpoint or run folder to continue")
    p.add_argument("--nproc", type=int,
                   help="train data-parallel on this many processes of this machine (starts "
                        "mpiexec; --batch-size is per process; threads per process: cores / "
                        "nproc unless --threads; needs svertka[mpi])")
    p.add_argument("--config", help="a TOML file with any of these options")
    p.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint on its dataset's test set")
    p.add_argument("checkpoint", help="a .svk checkpoint or a run folder")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--json", action="store_true", help="also print the metrics as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify images with a trained checkpoint or a zoo "
                                       "model's pretrained weights",
                       description="Classify images with a checkpoint of 'svertka train', or "
                                   "with --model NAME --weights W (a pretrained zoo model: "
                                   "svertka predict --model resnet18 --weights IMAGENET1K_V1 "
                                   "cat.jpg).")
    p.add_argument("checkpoint", help="a .svk checkpoint or a run folder (with --model: the "
                                      "first image)")
    p.add_argument("images", nargs="*", help="image files (PNG, JPEG: needs Pillow) or .npy")
    p.add_argument("--model", help="a zoo model of 'svertka models', with --weights")
    p.add_argument("--weights", help="with --model: a weights name (IMAGENET1K_V1, DEFAULT: "
                                     "downloaded once to $SVERTKA_HOME) or a weights file")
    p.add_argument("--top", type=positive_int, default=None,
                   help="how many classes to show (default 3; 5 with --model)")
    p.add_argument("--explain", choices=["gradcam"], default=None,
                   help="also write a picture of why: gradcam (Grad-CAM heat map over the "
                        "image, for the top class; needs matplotlib)")
    p.add_argument("--layer", default=None,
                   help="with --explain: the module whose maps Grad-CAM uses (a name of "
                        "model.named_modules(); default the last convolution)")
    p.add_argument("--out", default=None,
                   help="with --explain and one image: the picture's path (default "
                        "IMAGE.gradcam.png next to the image)")
    p.set_defaults(func=_onnx_or(cmd_predict, _cmd_predict_onnx, "checkpoint"))

    from svertka.analysis.cli import add_summary_parser
    from svertka.bench import add_bench_parser

    summary_parser = add_summary_parser(sub)
    summary_parser.set_defaults(func=_onnx_or(summary_parser.get_default("func"),
                                              _cmd_summary_onnx, "model"))
    add_bench_parser(sub)
    p = sub.add_parser("models", help="list the model zoo")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("datasets", help="list datasets and where their files go")
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("export", help="write a trained checkpoint as an ONNX model",
                       description="Export a checkpoint of 'svertka train' (or its run folder) "
                                   "to ONNX for onnxruntime and other runtimes; needs the "
                                   "onnx package (pip install 'svertka[onnx]').")
    p.add_argument("checkpoint", help="a .svk checkpoint or a run folder")
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--input", type=_input_shape,
                   help="the sample shape C x H x W to trace with, e.g. 1x28x28 (default: the "
                        "run's input shape)")
    p.add_argument("--opset", type=int, default=17, choices=range(13, 22), metavar="{13..21}",
                   help="ONNX opset version (default 17)")
    p.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true",
                   help="let the batch size vary (default: batch 1)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("explain", help="explore a model in the browser: layers, feature maps, "
                                       "receptive fields, convolution arithmetic",
                       description="Serve a local web page (and a JSON API) to see inside a "
                                   "model: draw or upload an input, see the top-5 prediction, "
                                   "every layer's feature maps, a unit's receptive field, the "
                                   "first layer's kernels and a convolution explorer. Needs "
                                   "svertka[web].")
    p.add_argument("target", nargs="?", default=None,
                   help="a run folder or .svk checkpoint of 'svertka train'")
    p.add_argument("--model", help="a zoo model of 'svertka models' instead (untrained "
                                   "unless --weights)")
    p.add_argument("--weights", help="with --model: a weights name or file")
    p.add_argument("--port", type=int, default=8000, help="default 8000 (0: a free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.set_defaults(func=cmd_explain)
    return parser


def main(argv=None):
    """Run the ``svertka`` command line; returns the exit status.

    0: done. 1: the training diverged. 2: the user's mistake (a bad flag, option value or
    file), said on one line of stderr: ``svertka <command>: <what is wrong>``. 130: interrupted
    (Ctrl-C). Any other exception is a bug of svertka and keeps its traceback.
    """
    parser = build_parser()
    command = "svertka"
    try:
        args, extra = parser.parse_known_args(argv)
        if not getattr(args, "command", None):
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            parser.print_help()
            return 0
        command = f"svertka {args.command}"
        if extra:  # said by the sub-command, whose options the user was giving
            raise CommandError(f"unrecognized arguments: {' '.join(extra)} (see '{command} "
                               f"--help')")
        args.argv = list(sys.argv[1:] if argv is None else argv)
        return args.func(args)
    except _UsageError as e:
        return _fail(str(e))
    except CommandError as e:
        return _fail(f"{command}: {e}")
    except OSError as e:
        # a file or folder the machine refused (missing, unwritable, a full disk): about the
        # user's paths and machine, never a logic error, and its message names the path
        return _fail(f"{command}: {describe(e)}")
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


def _fail(line):
    print(" ".join(line.split()), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
