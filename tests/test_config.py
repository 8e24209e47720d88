"""One place per option: TrainConfig's fields make the command lines and the checks."""
import argparse
import dataclasses

import pytest

from minialex import config as cfg
from minialex.config import FIELDS, TrainConfig, add_options, check_config, given_options, option_name
from minialex.experiments import ablations, figure1, recipes
from minialex.train import build_parser

OFFERED = [name for name, f in FIELDS.items() if "group" in f.metadata]


def test_every_offered_field_is_an_option_of_the_command_with_its_default_in_the_help():
    parser = build_parser()
    actions = {a.dest: a for a in parser._actions}
    for name in OFFERED:
        action = actions[name]
        assert option_name(name) in action.option_strings
        assert action.default is None  # so that --resume can tell what was given
        assert f"(default: {FIELDS[name].metadata['shown']})".replace("%%", "%") in action.help.replace("%%", "%")
    assert "--lrn-groups" not in parser.format_help() and "--validate" not in parser.format_help()


def test_the_command_line_gives_the_fields_values():
    args = build_parser().parse_args(["--pool", "plain", "--milestones", "3", "5", "--lr", "0.02", "--no-augment",
                                      "--device", "cuda"])
    assert given_options(args) == {"overlap": False, "milestones": (3, 5), "lr": 0.02, "augment": False,
                                   "device": "gpu"}
    assert given_options(build_parser().parse_args([])) == {}


@pytest.mark.parametrize("field, value, message", [
    ("lr", 0.0, "--lr must be a finite number > 0, got 0.0"),
    ("batch_size", 0, "--batch-size must be at least 1, got 0"),
    ("milestones", (2, 0), "--milestones must be epoch numbers >= 1 (the rate drops after each), got [2, 0]"),
    ("model", "vgg", "--model must be one of alexnet, figure1, got 'vgg'"),
    ("overlap", "plain", "--pool must be True or False, got 'plain'"),
    ("points_per_epoch", 0, "--points-per-epoch must be at least 1, got 0"),
])
def test_each_fields_rule_names_its_option(field, value, message):
    with pytest.raises(ValueError) as err:
        check_config(TrainConfig(**{field: value}))
    assert str(err.value) == message


def test_an_experiment_starts_from_its_own_defaults_and_shows_each_once():
    p = argparse.ArgumentParser(formatter_class=cfg.HelpFormatter)
    p.add_argument("--steps", type=int, default=3, help="an option of the experiment's own")
    add_options(p, ["epochs", "overlap", "download"], defaults={"epochs": 30, "overlap": False})
    text = p.format_help()
    assert "(default: 30)" in text and "(default: 3)" in text and text.count("(default:") == 4
    args = p.parse_args([])
    assert given_options(args, ["epochs", "overlap", "download"]) == {"epochs": 30, "overlap": False}
    assert given_options(p.parse_args(["--epochs", "2", "--download"]), ["epochs", "download"]) == \
        {"epochs": 2, "download": True}
    with pytest.raises(ValueError, match="validate is a setting"):
        add_options(argparse.ArgumentParser(), ["validate"])


def test_the_experiments_pass_on_their_training_options_and_only_those():
    a = recipes.parse_args(["--warmup", "2", "--batch-size", "16", "--device", "cpu"])
    assert given_options(a, recipes.OPTIONS) == {"dataset": "imagenette", "batch_size": 16, "seed": 0,
                                                 "device": "cpu"}  # --warmup is the recipe's, not every run's
    a = figure1.parse_args(["--subset", "500", "--points-per-epoch", "4"])
    c = figure1.run_config(a, "tanh", 0.02)
    assert (c.subset, c.points_per_epoch, c.activation, c.lr, c.weight_decay, c.augment) == \
        (500, 4, "tanh", 0.02, 0.0, False)
    a = ablations.parse_args(["lrn", "--lr", "0.01"])
    assert given_options(a, ablations.OPTIONS)["lr"] == 0.01


def test_the_table_and_the_dataclass_agree():
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert names == list(FIELDS)
    assert all(FIELDS[n].metadata["group"] in cfg.GROUPS for n in OFFERED)
    assert set(cfg.CHANGEABLE_ON_RESUME + cfg.WHERE_IT_RUNS) <= set(OFFERED)
