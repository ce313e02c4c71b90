"""``svertka summary MODEL --input 3x224x224``: the command line of :func:`summary`.

The main parser (``svertka/cli.py``) adds the sub-command with :func:`add_summary_parser`.
"""

from __future__ import annotations

import json

from svertka._cli_errors import CommandError


def parse_input_size(text):
    """``'3x224x224'`` (or ``'3,224,224'``) -> ``(3, 224, 224)``.

    >>> parse_input_size("3x32x32")
    (3, 32, 32)
    """
    parts = text.replace(",", "x").lower().split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"summary: --input must look like 3x224x224, got --input={text!r}") \
            from None
    if not size or any(v <= 0 for v in size):
        raise ValueError(f"summary: --input sizes must be positive, got --input={text!r}")
    return size


def add_summary_parser(subparsers):
    """Add ``summary`` to an ``argparse`` sub-parser collection; returns the parser."""
    p = subparsers.add_parser(
        "summary", help="layer table of a model: shapes, parameters, MACs, receptive fields",
        description="Print a model's layers with output shapes, parameters, multiply-"
                    "accumulates per sample and receptive fields (one forward pass).")
    p.add_argument("model", help="a model of 'svertka models'")
    p.add_argument("--input", dest="input", default=None,
                   help="sample shape without the batch, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--num-classes", dest="num_classes", type=int, default=None,
                   help="number of outputs (default: the builder's)")
    p.add_argument("--json", action="store_true", help="print everything as JSON instead")
    p.set_defaults(func=cmd_summary)
    return p


def cmd_summary(args):
    """Run ``svertka summary``; returns the exit status."""
    from svertka import models
    from svertka.analysis.summary import summary

    if args.num_classes is not None and args.num_classes < 1:
        raise CommandError(f"--num-classes must be a positive int, got {args.num_classes}")
    try:  # the library's checks of the user's model name, input size and class count
        info = models.model_info(args.model)
        default = tuple(info["input_size"])
        size = parse_input_size(args.input) if args.input is not None else default
        if len(size) != len(default):
            raise CommandError(f"{args.model} takes inputs of {len(default)} dims (channels "
                               f"first, e.g. {'x'.join(map(str, default))}), got "
                               f"--input={args.input}")
        kwargs = {"in_channels": size[0], "input_size": size}
        if args.num_classes is not None:
            kwargs["num_classes"] = args.num_classes
        model = models.get_model(args.model, **kwargs)
        s = summary(model, size)
    except ValueError as e:
        raise CommandError(str(e).removeprefix("summary: ")) from None
    if args.json:
        print(json.dumps(s.to_dict(), indent=1))
    else:
        print(f"{args.model}")
        print(s)
    return 0
