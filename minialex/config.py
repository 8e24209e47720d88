"""The options of a training run, each written once: its default, its
command-line flag and help, and the values it allows.

``TrainConfig`` is what a run saves (in its checkpoint and ``config.json``).
Each field's metadata says how the command line offers it, so
``python -m minialex.train`` (``add_options``) and the experiments build their
parsers from this one table, and ``check_config`` checks every value with the
rule written beside its field:

    p = argparse.ArgumentParser()
    add_options(p, ["dataset", "epochs", "lr"], defaults={"epochs": 30})
    config = TrainConfig(**given_options(p.parse_args()))
"""
import argparse
import dataclasses
import functools
import math

from .backend import check_device
from .data import DATASETS
from .models import ACTIVATIONS, INITS, MODELS, alexnet, figure1_net
from .optim import OPTIMIZERS, ConstantSchedule, ReduceOnPlateau, StepSchedule

SCHEDULES = {"plateau": lambda c: ReduceOnPlateau(c.patience, 10.0, c.max_drops),
             "step": lambda c: StepSchedule(c.milestones),
             "constant": lambda c: ConstantSchedule()}


def device_name(name):
    """--device: "cuda" is PyTorch's name for the GPU."""
    return "gpu" if name == "cuda" else name


def option(default, group, help, shown=None, rule=None, flag=None, from_cli=None, **cli):
    """A TrainConfig field offered on the command line.

    group, help: where --help lists it and what it says; shown: the default as --help states it (when
    it is not simply ``default``); rule: (test of a value, what the values must be), checked by
    check_config for any value but None (default: the choices, if any; False: none); flag: the option's name when it is not the field's
    (overlap is --pool); from_cli: turns what argparse read into the field's value; cli: the rest of
    argparse's add_argument arguments (type, choices, action, nargs, metavar)."""
    choices = cli.get("choices")
    if rule is None and choices is not None:
        rule = (lambda value: value in choices, "must be one of " + ", ".join(choices))
    rule = rule or None  # False: no rule
    return dataclasses.field(default=default, metadata=dict(
        group=group, help=help, shown=default if shown is None else shown, rule=rule, flag=flag,
        from_cli=from_cli, cli=cli))


def setting(default, rule=None):
    """A TrainConfig field that the command line does not offer (tests and experiments set it)."""
    return dataclasses.field(default=default, metadata=dict(rule=rule))


def at_least(n, what="at least"):
    return lambda v: v >= n, f"must be {what} {n}"


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run; saved in its checkpoint and ``config.json``."""
    model: str = option("figure1", "model", "the network", choices=list(MODELS))
    activation: str = option("relu", "model", "the non-linearity, section 3.1", choices=list(ACTIVATIONS))
    lrn: bool = option(None, "model", "local response normalisation, section 3.3",
                       shown="on for alexnet, off for figure1", action=argparse.BooleanOptionalAction)
    batch_norm: bool = option(False, "model", "batch normalisation after every convolution and hidden fc layer, "
                              "before the activation (Ioffe & Szegedy 2015; not in the paper); in alexnet it replaces "
                              "LRN unless --lrn is given; not with --parallel data", shown="off", action=argparse.BooleanOptionalAction)
    # alexnet: None = 2 (each GPU's maps, section 3.2); 1 = across all maps, as alexnet() was before LRN had
    # groups (runs from then say so)
    lrn_groups: int = setting(None)
    overlap: bool = option(True, "model", "3x3 stride-2 pooling (overlap: the paper's, section 3.4) or 2x2 "
                           "stride-2 (plain)", shown="overlap", flag="--pool", choices=["overlap", "plain"],
                           from_cli=lambda pool: pool == "overlap", rule=(lambda v: isinstance(v, bool),
                                                                          "must be True or False"))
    init: str = option("paper", "model", "alexnet's initial weights: the paper's (biases 1) or Caffe's reference "
                       "(biases 0.1)", choices=list(INITS))
    dropout: float = option(None, "model", "dropout probability, in [0, 1)", shown="0.5 for alexnet, 0 for figure1",
                            rule=(lambda p: 0 <= p < 1, "must be a probability in [0, 1)"), type=float, metavar="P")
    # No rule: load_dataset refuses a name it does not know, and a Trainer given its data takes any name.
    dataset: str = option("embedded", "data", "the images; the README's Data section lists them", choices=DATASETS,
                          rule=False)
    data_dir: str = option(None, "data", "where the data set is (or goes, with --download)",
                           shown="$MINIALEX_DATA, else ~/.cache/minialex")
    val_dir: str = option(None, "data", "--dataset folder: the validation images' CLASS/IMAGE tree",
                          shown="DATA_DIR/val if DATA_DIR holds train/ and val/, else a held-out 10%% of DATA_DIR")
    download: bool = option(False, "data", "download the data set if it is missing", shown="off", action="store_true")
    skip_bad_images: bool = option(False, "data", "image folders: leave out the files that cannot be decoded "
                                   "(without it they are all listed, and the run stops)", shown="off",
                                   action="store_true")
    subset: int = option(None, "data", "train on a stratified subset of N images", shown="all images",
                         rule=at_least(1, "a number of images >="), type=int, metavar="N")
    augment: bool = option(True, "data", "random crops and horizontal flips, section 4.1", shown="on",
                           action=argparse.BooleanOptionalAction)
    pca_lighting: bool = option(False, "data", "the paper's PCA colour augmentation, section 4.1; RGB data only",
                                shown="off", action=argparse.BooleanOptionalAction)
    crop: int = option(None, "data", "input size in pixels", shown="227 for 256x256 images, else the image size",
                       rule=at_least(1, "a size in pixels >="), type=int, metavar="PIXELS")
    epochs: int = option(10, "learning", "epochs in all", shown="10; with --resume, the run's own",
                         rule=at_least(1), type=int)
    batch_size: int = option(128, "learning", "images per SGD step", rule=at_least(1), type=int)
    optimizer: str = option("sgd", "learning", "sgd: the paper's update (section 5); adam, adamw: not in the paper "
                            "(Kingma & Ba 2015), with PyTorch's betas and eps; they want a lower --lr, e.g. 0.001",
                            choices=list(OPTIMIZERS))
    lr: float = option(0.01, "learning", "learning rate", rule=(lambda v: math.isfinite(v) and v > 0,
                                                                "must be a finite number > 0"), type=float)
    momentum: float = option(0.9, "learning", "SGD momentum, in [0, 1)", rule=(lambda v: 0 <= v < 1,
                                                                                "must be in [0, 1)"), type=float)
    weight_decay: float = option(5e-4, "learning", "weight decay, section 5",
                                 rule=(lambda v: 0 <= v < 1, "must be a finite number >= 0 and below 1 (each step "
                                       "shrinks the weights by lr x weight decay; the paper's is 0.0005)"),
                                 type=float)
    warmup: float = option(0.0, "learning", "epochs over which the learning rate rises linearly to --lr; not in "
                           "the paper", rule=(lambda v: math.isfinite(v) and v >= 0,
                                              "must be a finite number of epochs >= 0"), type=float)
    schedule: str = option("plateau", "learning", "plateau: divide lr by 10 when the val error stops improving; "
                           "step: at --milestones; constant: never", choices=list(SCHEDULES))
    patience: int = option(3, "learning", "plateau: epochs without improvement before a drop",
                           rule=at_least(1, "a number of epochs >="), type=int)
    max_drops: int = option(3, "learning", "plateau: drops at most (the paper dropped the rate three times)",
                            rule=at_least(0, ">="), type=int)
    milestones: tuple = option((), "learning", "step: the epochs after which lr is divided by 10, e.g. "
                               "--milestones 20 30", shown="none", from_cli=tuple,
                               rule=(lambda v: all(m >= 1 for m in v),
                                     "must be epoch numbers >= 1 (the rate drops after each)"),
                               type=int, nargs="*", metavar="EPOCH")
    validate: bool = setting(True)    # evaluate the validation set after every epoch
    device: str = option("cpu", "run", "cpu or gpu (cuda is accepted for gpu)", shown="$MINIALEX_DEVICE, else cpu",
                         type=device_name, choices=["cpu", "gpu"])
    seed: int = option(0, "run", "seed of the initial weights, the shuffle, the augmentation and dropout",
                       rule=at_least(0, "a whole number >="), type=int)
    points_per_epoch: int = option(10, "run", "how many times per epoch the running training error is recorded "
                                   "(metrics.jsonl, curves.png)", rule=at_least(1), type=int, metavar="N")
    keep: str = option("both", "run", "what the run directory keeps: checkpoint.npz (the whole state, to continue "
                       "with --resume: about twice the weights), model.npz (the weights alone, to use or share the "
                       "network), or both; with weights the checkpoint is written while the "
                       "run trains and deleted when it ends", choices=["both", "checkpoint", "weights"])
    half_weights: bool = option(False, "run", "model.npz in float16: half its size, the weights rounded to about "
                                "three significant digits", shown="off", action="store_true")


# What a resumed run may change: the options that steer the rest of it (how long, the learning rate and its
# schedule, what it keeps), and where it runs. Every other field defines what the checkpoint is a state of, so it stays.
CHANGEABLE_ON_RESUME = ("epochs", "lr", "patience", "max_drops", "milestones", "keep", "half_weights")
WHERE_IT_RUNS = ("device", "data_dir", "val_dir", "download", "skip_bad_images")
FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
GROUPS = ("model", "data", "learning", "run")


def option_name(field):
    """The command-line option of a TrainConfig field, for messages: batch_size -> --batch-size. A field that
    the command line does not offer is named as it is (points_per_epoch)."""
    meta = FIELDS[field].metadata
    if "group" not in meta:
        return field
    return meta["flag"] or "--" + field.replace("_", "-")


# -- the command line ----------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in --help, once: the options of add_options already state theirs."""

    def _get_help_string(self, action):
        return action.help if "(default: " in (action.help or "") else super()._get_help_string(action)


def add_options(parser, names=None, defaults=None, groups=None):
    """Add the options of TrainConfig's fields ``names`` (all it offers, by default) to ``parser``.

    Without ``defaults`` every option reads None unless it is given, so that a resumed run can tell what
    was asked for, and --help shows the default a new run uses. ``defaults``: {field: value} an
    experiment starts from instead (argparse then gives those, and --help shows them). ``groups``: argparse
    groups by name, to add the options to; made in ``parser`` when missing."""
    defaults = defaults or {}
    groups = {} if groups is None else groups
    for name in names or [n for n, f in FIELDS.items() if "group" in f.metadata]:
        meta = FIELDS[name].metadata
        if "group" not in meta:
            raise ValueError(f"{name} is a setting, not a command-line option")
        if meta["group"] not in groups:
            groups[meta["group"]] = parser.add_argument_group(meta["group"])
        cli = dict(meta["cli"])
        default, shown = None, meta["shown"]
        if name in defaults:  # an experiment's default, as a user would write it; argparse fills it in
            default = defaults[name]
            if name == "overlap":
                default = "overlap" if default else "plain"
            shown = "%(default)s"
        groups[meta["group"]].add_argument(option_name(name), dest=name, default=default,
                                           help=f"{meta['help']} (default: {shown})", **cli)
    return groups


def given_options(args, names=None):
    """{TrainConfig field: value} of the options ``names`` (all of TrainConfig's, by default) that ``args``
    (what argparse read) holds and that are not None, each turned into the field's value."""
    given = {}
    for name in names or FIELDS:
        f, value = FIELDS[name], getattr(args, name, None)
        if value is not None:
            convert = f.metadata.get("from_cli")
            given[name] = convert(value) if convert else value
    return given


# -- checking a configuration before any work ---------------------------------------------


def _shown(value):
    return repr(value) if isinstance(value, str) else list(value) if isinstance(value, tuple) else value


def check_values(values):
    """Raise a ValueError that names the option and the values it allows, for the first of ``values``
    ({field: value}) that breaks its field's own rule; None passes (it means the default)."""
    for name, value in values.items():
        rule = FIELDS[name].metadata.get("rule")
        if rule is not None and value is not None and not rule[0](value):
            raise ValueError(f"{option_name(name)} {rule[1]}, got {_shown(value)}")


def check_config(c):
    """Raise a ValueError that names the option and the values it allows, for the first value of ``c``
    that cannot work. Every Trainer calls it first, before it loads any data, so the command line's
    errors too come before any work."""
    check_device(c.device)
    check_values({name: getattr(c, name) for name in FIELDS})
    rules = [  # the rules that concern two options at once
        (c.warmup <= c.epochs,
         f"--warmup {c.warmup:g} is longer than the run (--epochs {c.epochs}): the learning rate would never reach "
         "--lr"),
        (c.init == "paper" or c.model == "alexnet",
         f"init {c.init!r} is for alexnet; the Figure 1 network has its own initial scales"),
        (c.dataset != "embedded" or not (c.data_dir or c.val_dir),
         f"{'--data-dir' if c.data_dir else '--val-dir'} is not for --dataset embedded: its images come with "
         "the package"),
        (c.schedule != "plateau" or c.validate,
         "schedule 'plateau' drops the learning rate when the validation error stops improving, so it needs "
         "validate=True; use schedule 'step' or 'constant'"),
    ]
    for ok, message in rules:
        if not ok:
            raise ValueError(message)
    if c.crop is not None:
        n = smallest_input(c.model, c.overlap)
        if c.crop < n:
            raise ValueError(f"--crop {c.crop} is too small for {c.model}: the smallest input it accepts is {n}x{n}")


# -- the input size -------------------------------------------------------------------------


def input_problem(model, size):
    """Why ``model`` cannot take size x size images, or None if it can; worked out from the shapes its
    layers would give (``Layer.output_shape``), without computing anything. (The input's channels do not
    matter: the first layer is a convolution.)"""
    try:
        model.output_shape((1, 1, size, size))
    except ValueError as err:
        return str(err)
    return None


def input_size(config, height):
    """The side of the network's input for images ``height`` pixels high: --crop if given, else 227 for
    the paper's 256x256 images (section 4.1), else the images' own size."""
    return config.crop or (227 if height >= 256 else height)


@functools.lru_cache(maxsize=None)
def smallest_input(model, overlap):
    """The smallest image size (pixels a side) that the network ``model`` accepts, tried on probe networks.
    AlexNet's layers do not depend on the input size, so one network serves every size; the Figure 1 net
    sizes its classifier to the input, so each size gets its own (a small one)."""
    fixed = alexnet(2, overlap=overlap) if model == "alexnet" else None
    for size in range(1, 1024):
        if input_problem(fixed or figure1_net(num_classes=2, input_size=size, overlap=overlap), size) is None:
            return size
