"""The layer contract (minialex/layers/layer.py): parameters, buffers, state, and no switching on layer types."""
import ast
import pathlib

import numpy as np
import pytest

import minialex
import minialex.distributed.model  # noqa: F401  (its exchange layers are layers too)
from minialex.layers import BatchNorm2d, Conv2d, Dropout, Layer, Linear, ReLU, Sequential
from minialex.models import figure1_net
from minialex.optim import SGD, Adam

PACKAGE = pathlib.Path(minialex.__file__).parent

# Finding a layer by its kind, not treating kinds differently: visualize draws the first
# convolution's kernels (Figure 3) and takes the input of the last Linear as the features (Figure 4).
ALLOWED = {("visualize.py", "first_conv"), ("visualize.py", "kernel_groups"), ("visualize.py", "last_linear_index")}
# The course's graders translate minialex networks into the learner's own package (mynet), layer kind by
# layer kind: a converter between two representations, not the library's machinery.
NOT_SCANNED = ("course",)


def layer_classes():
    found, todo = {"Layer"}, [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


def switches_on_layer_types(source, defined_here=()):
    """[(function, line)] of every place in ``source`` that tests an object against a layer class
    (isinstance / issubclass / type(x) is / == ...) or compares a ``.__name__``; ``defined_here``:
    the classes the module defines itself, which it may test."""
    names = layer_classes() - set(defined_here)
    found = []

    def names_in(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
               {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.ClassDef)) else function
            if isinstance(child, ast.Call) and getattr(child.func, "id", None) in ("isinstance", "issubclass") \
                    and len(child.args) == 2 and names_in(child.args[1]) & names:
                found.append((function, child.lineno))
            if isinstance(child, ast.Compare):
                sides = [child.left, *child.comparators]
                by_type = any(isinstance(s, ast.Call) and getattr(s.func, "id", None) == "type" for s in sides)
                if (by_type and any(names_in(s) & names for s in sides)) or \
                        any(isinstance(n, ast.Attribute) and n.attr == "__name__" for s in sides for n in ast.walk(s)):
                    found.append((function, child.lineno))
            visit(child, inner)

    visit(ast.parse(source), None)
    return found


def test_no_code_outside_a_layers_module_switches_on_layer_types():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in NOT_SCANNED:
            continue
        tree = ast.parse(path.read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for function, line in switches_on_layer_types(path.read_text(), defined):
            if (path.name, function) not in ALLOWED:
                offences.append(f"{path.relative_to(PACKAGE)}:{line} ({function})")
    assert not offences, ("these switch on a layer's type; ask the layer instead (Layer's contract, "
                          "minialex/layers/layer.py): " + ", ".join(offences))


def test_the_scan_finds_each_kind_of_switch():
    source = '''
def save(model):
    return [l.rng for l in model.layers if isinstance(l, Dropout)]
def flops(layer):
    if type(layer) is Conv2d:
        return 1
    if type(layer).__name__ == "Linear":
        return 2
def fine(x):
    return isinstance(x, (int, float)), type(x).__name__
'''
    assert [f for f, _ in switches_on_layer_types(source)] == ["save", "flops", "flops"]
    assert switches_on_layer_types("class Dropout:\n  def f(self, o):\n    return isinstance(o, Dropout)\n",
                                   {"Dropout"}) == []


def test_parameters_are_the_arrays_and_remember_where_they_live():
    net = figure1_net()
    params = net.parameters()
    assert sum(p.size for p in params) == sum(w.size for w in net.named_parameters().values()) == 89_578  # conv1 2,432 + conv2 25,632 + conv3 51,264 + fc 10,250
    assert params[0] is net["conv1"].params["W"]
    assert [name for name, _, _ in params.slots] == list(net.named_parameters())
    assert list(net.named_parameters().items())[0][0] == "conv1.W"


def test_an_optimiser_takes_parameters_the_model_or_slots_and_nothing_else():
    net = figure1_net()
    for given in (net.parameters(), net, net.parameter_slots()):
        assert [n for n, _, _ in SGD(given).parameters] == list(net.named_parameters())
        assert len(Adam(given).parameters) == 8
    for wrong, shown in (([w for w in net.named_parameters().values()], "list of 8 items"),
                         (net.named_parameters(), "dict"), (np.zeros(3), "ndarray")):
        with pytest.raises(TypeError, match=f"SGD: pass model.parameters\\(\\), the model itself, or "
                                            f"model.parameter_slots\\(\\); got {shown}"):
            SGD(wrong)


def test_state_dict_holds_copies_of_parameters_and_buffers_and_loads_back():
    net = Sequential(Conv2d(3, 4, 3), BatchNorm2d(4), ReLU(), names=["conv", "bn", "relu"])
    sd = net.state_dict()
    assert list(sd) == ["conv.W", "conv.b", "bn.W", "bn.b", "bn.running_mean", "bn.running_var"]
    assert sd["conv.W"] is not net["conv"].params["W"]
    sd["conv.W"] += 1
    sd["bn.running_var"][:] = 7
    before = net["conv"].params["W"]
    assert net.load_state_dict(sd) == ([], [])
    np.testing.assert_array_equal(net["conv"].params["W"], sd["conv.W"])
    assert net["conv"].params["W"] is not sd["conv.W"] and net["conv"].params["W"].dtype == before.dtype
    assert (net["bn"].buffers["running_var"] == 7).all()


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    net = Sequential(Linear(3, 2), Linear(2, 2), names=["fc1", "fc2"])
    sd = net.state_dict()
    del sd["fc2.b"]
    sd["fc3.W"] = np.zeros((2, 2))
    sd["fc1.W"] = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"missing: fc2\.b; unexpected: fc3\.W; fc1\.W is \(2, 4\) in the state "
                                         r"dict, \(2, 3\) in the model"):
        net.load_state_dict(sd)
    sd["fc1.W"] = np.full((2, 3), 5.0)
    assert net.load_state_dict(sd, strict=False) == (["fc2.b"], ["fc3.W"])
    assert (net["fc1"].params["W"] == 5).all()


def test_dropouts_random_state_is_extra_state_not_state_dict():
    net = Sequential(Linear(4, 4), Dropout(0.5, rng=np.random.default_rng(1)), names=["fc", "drop"])
    assert list(net.state_dict()) == ["fc.W", "fc.b"]
    saved = net.extra_state()
    x = np.ones((2, 4), np.float32)
    first = net.forward(x)
    net.load_extra_state(saved)
    np.testing.assert_array_equal(net.forward(x), first)  # the same mask again
    with pytest.raises(ValueError, match="1 layers' random state, this network 0"):
        Sequential(Linear(4, 4)).load_extra_state(saved)


def test_output_shape_names_the_first_layer_that_does_not_fit():
    net = figure1_net(input_size=32)
    assert net.output_shape((1, 3, 32, 32)) == (1, 10)
    with pytest.raises(ValueError, match="fc's input would have 576 features; it expects 1024"):
        net.output_shape((1, 3, 24, 24))
