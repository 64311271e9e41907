"""GDAS' Gumbel-softmax op weights (dartslib.space.gumbel): hard forward, straight-through backward, Gumbel-max
sampling frequencies, the annealed temperature, bit-exact resume and the CLI."""
import json

import pytest
import torch

from dartslib import make_config
from dartslib.cli import main
from dartslib.arch.derive import derive
from dartslib.space.gumbel import GumbelAnnealing, GumbelSoftmaxWeights, tau_schedule
from dartslib.methods.presets import build_hooks
from dartslib.space.op_weights import OP_WEIGHT_FORMS, SoftmaxWeights, build_op_weight_form
from dartslib.engine.loop import Search, SearchInterrupted, search
from dartslib.space.spaces import get_space
from stop_at import StopAt  # tests/stop_at.py


def test_the_registry_names_the_form_and_its_hook():
    assert OP_WEIGHT_FORMS["gumbel"] is GumbelSoftmaxWeights
    assert isinstance(build_op_weight_form("gumbel"), GumbelSoftmaxWeights)
    hooks = build_hooks(make_config("darts", "nb201", "toy", op_weights="gumbel"))
    assert [type(h) for h in hooks] == [GumbelAnnealing]
    assert build_hooks(make_config("darts", "nb201", "toy")) == []  # control: softmax needs no hook


@pytest.mark.parametrize("tau", [10.0, 1.0, 0.1])
def test_forward_is_one_hot_and_every_alpha_gets_a_gradient(tau):
    torch.manual_seed(0)
    alphas = torch.randn(6, 5, requires_grad=True)
    weights = GumbelSoftmaxWeights(tau)(alphas)
    assert torch.equal(weights.detach().sum(-1), torch.ones(6))
    assert set(weights.detach().unique().tolist()) == {0.0, 1.0}  # hard: exactly one op per edge
    (weights * torch.randn(6, 5)).sum().backward()
    chosen = weights.detach().bool()
    assert (alphas.grad[~chosen] != 0).all()  # straight-through: the ops not drawn get gradient too


def test_the_gradient_is_the_relaxations_and_the_noise_comes_from_the_global_stream():
    alphas = torch.randn(6, 5, requires_grad=True)
    upstream = torch.randn(6, 5)
    torch.manual_seed(1)
    (GumbelSoftmaxWeights(0.5)(alphas) * upstream).sum().backward()
    torch.manual_seed(1)  # the same draw again, by hand: p = softmax((log_softmax(A) + g) / tau)
    gumbels = -torch.empty(6, 5).exponential_().log()
    soft = torch.softmax((alphas.log_softmax(-1) + gumbels) / 0.5, dim=-1)
    (expected,) = torch.autograd.grad((soft * upstream).sum(), alphas)
    assert torch.allclose(alphas.grad, expected, atol=1e-6)


def test_plain_softmax_is_neither_one_hot_nor_random():
    """Control: the checks above fail for DARTS' softmax."""
    alphas = torch.randn(6, 5)
    weights = SoftmaxWeights()(alphas)
    assert not set(weights.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(weights, SoftmaxWeights()(alphas))


@pytest.mark.parametrize("tau", [10.0, 0.1])
def test_ops_are_drawn_with_probability_softmax_alpha_at_any_temperature(tau):
    """Gumbel-max: argmax(log_softmax(A) + g) ~ Categorical(softmax(A)); tau shapes only the gradient."""
    torch.manual_seed(2)
    alphas = torch.tensor([[1.5, 0.5, 0.0, -1.0, -2.0]])
    draws = 20000
    form = GumbelSoftmaxWeights(tau)
    counts = sum(form(alphas) for _ in range(draws)).squeeze(0) / draws
    probs = torch.softmax(alphas, -1).squeeze(0)
    assert torch.allclose(counts, probs, atol=0.015)  # 4 binomial sd at p = 0.5 is 0.014
    if tau != 1.0:  # control: softmax(A / tau), what a soft form at tau would weigh, is far from it
        assert (counts - torch.softmax(alphas / tau, -1).squeeze(0)).abs().max() > 0.2


def test_tau_is_annealed_linearly_from_10_to_0_1():
    assert [tau_schedule(e, 3) for e in range(3)] == pytest.approx([10.0, 5.05, 0.1])
    assert tau_schedule(0, 1) == 10.0


def tiny_config(**overrides):
    values = dict(op_weights="gumbel", epochs=3, C=4, cells_per_stage=1, max_steps_per_epoch=3, batch_size=32,
                  image_size=8)
    values.update(overrides)
    return make_config("darts", "nb201", "toy", **values)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return search(tiny_config(), tmp_path_factory.mktemp("reference"), progress=False)


def test_a_search_anneals_tau_evaluates_the_argmax_and_derives_it(reference):
    assert [h["gumbel_tau"] for h in reference.history] == pytest.approx([10.0, 5.05, 0.1])
    alphas = reference.model.arch_params["cell"].detach()
    reported = torch.tensor(reference.history[-1]["op_weights"]["cell"])
    one_hot = torch.nn.functional.one_hot(alphas.argmax(-1), alphas.shape[-1]).float()
    assert torch.equal(reported, one_hot)  # evaluated on the argmax path, no draws
    assert reference.genotype == str(derive({"cell": one_hot}, get_space("nb201"), "nb201"))
    assert not torch.equal(alphas, torch.zeros_like(alphas))


def test_softmax_search_differs(reference, tmp_path):
    """Control: the same tiny search with softmax weights reports soft weights and other alphas."""
    plain = search(tiny_config(op_weights="softmax"), tmp_path, progress=False)
    assert "gumbel_tau" not in plain.history[-1]
    assert not torch.equal(plain.model.arch_params["cell"], reference.model.arch_params["cell"])


@pytest.mark.parametrize("stop_epoch, stop_step", [(1, 1), (2, 0)])
def test_an_interrupted_gumbel_search_resumes_bit_identically(reference, tmp_path, stop_epoch, stop_step):
    stopper = StopAt(stop_epoch, stop_step)
    run = Search(tiny_config(), tmp_path, progress=False, hooks=[stopper])
    stopper.search = run
    with pytest.raises(SearchInterrupted):
        run.run()
    resumed = Search.resume(tmp_path, progress=False).run()
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    strip = lambda history: [{k: v for k, v in h.items() if k != "seconds"} for h in history]  # noqa: E731
    assert strip(resumed.history) == strip(reference.history)


def test_a_resume_without_the_saved_random_state_diverges(reference, tmp_path):
    """Control: the draws matter, so losing the global stream's state changes the search."""
    stopper = StopAt(1, 1)
    run = Search(tiny_config(), tmp_path, progress=False, hooks=[stopper])
    stopper.search = run
    with pytest.raises(SearchInterrupted):
        run.run()
    resumed = Search.resume(tmp_path, progress=False)
    torch.manual_seed(12345)  # as if the checkpoint had not restored torch's random state
    resumed = resumed.run()
    assert not torch.equal(resumed.model.arch_params["cell"], reference.model.arch_params["cell"])


def test_the_cli_runs_a_gumbel_search(capsys, tmp_path):
    status = main(["search", "--space", "nb201", "--op-weights", "gumbel", "--scale", "toy", "--epochs", "1",
                   "--cells-per-stage", "1", "--C", "4", "--out", str(tmp_path), "--quiet"])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["genotype"].startswith("|") and printed["epochs"] == 1
    record = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
    assert record["gumbel_tau"] == 10.0 and json.loads((tmp_path / "result.json").read_text())["config"][
        "op_weights"] == "gumbel"


def test_a_gumbel_hook_on_another_form_is_a_clear_error():
    class Model:
        op_weight_form = SoftmaxWeights()

    with pytest.raises(TypeError, match="needs 'gumbel' op weights"):
        GumbelAnnealing().eval_mode(Model())


# ----------------------------------------------- the gradient against GDAS' code (the page's exercise)
def _edge_gradients(kind: str, sampled_conv: bool = True):
    """Loss, alpha gradient and weight gradients of one edge under hard Gumbel weights, computed three ways:
    ``all`` (dartslib: every op, weighted), ``sampled`` (only the sampled op, GDAS' DARTS-space
    ``MixedOp.forward_gdas``) and ``nb201`` (the unsampled weights added as scalars, ``forward_gdas`` of
    NAS-Bench-201's cell)."""
    from dartslib.space.supernet import MixedEdge

    torch.manual_seed(0)
    edge = MixedEdge(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"], 4, 1, pool_bn=False)
    x, target = torch.randn(8, 4, 6, 6), torch.randn(8, 4, 6, 6)
    alphas = torch.tensor([0.1, -0.3, 0.2, 0.0, -0.1], requires_grad=True)
    gumbels = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0]) if sampled_conv else torch.tensor([0.0, 3.0, 0.0, 0.0, 0.0])
    soft = torch.softmax((alphas.log_softmax(-1) + gumbels) / 0.5, -1)
    k = int(soft.argmax())
    w = torch.nn.functional.one_hot(soft.argmax(), 5).float() - soft.detach() + soft
    if kind == "all":
        out = edge(x, w)
    elif kind == "sampled":
        out = w[k] * edge.ops[k](x)
    else:
        out = sum(w[j] * edge.ops[j](x) if j == k else w[j] for j in range(5))
    loss = ((out - target) ** 2).mean()
    params = [p for p in edge.parameters()]
    grads = torch.autograd.grad(loss, [alphas] + params, allow_unused=True)
    weight_grads = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads[1:], params)]
    return loss, grads[0], weight_grads, (edge, x, target, soft, k)


def test_computing_only_the_sampled_op_keeps_the_forward_but_changes_the_alpha_gradients():
    """The page's exercise: skipping the ops whose weight is 0 leaves the forward value and the weights'
    gradients as they are, and changes the alphas' gradients -- to those of GDAS' DARTS-space code, where only
    the sampled op's relaxed weight passes a gradient: ``<g, op_k(x)> dp_k / d alpha``."""
    loss_all, alpha_all, weights_all, _ = _edge_gradients("all")
    loss_one, alpha_one, weights_one, (edge, x, target, soft, k) = _edge_gradients("sampled")
    loss_201, alpha_201, _, _ = _edge_gradients("nb201")
    assert torch.allclose(loss_all, loss_one) and torch.allclose(loss_all, loss_201)
    assert all(torch.allclose(a, b) for a, b in zip(weights_all, weights_one))
    assert any(g.abs().sum() > 0 for g in weights_all)  # the sampled op is a conv: its weights learn
    # the alphas' gradients: three different estimators, far apart compared with rounding
    for other in (alpha_one, alpha_201):
        assert (alpha_all - other).abs().max() > 1e-3 * alpha_all.abs().max()
    assert (alpha_one - alpha_201).abs().max() > 1e-3 * alpha_all.abs().max()
    # the sampled-only gradient is <g, op_k(x)> dp_k/dalpha
    y = edge.ops[k](x).detach().requires_grad_()
    g = torch.autograd.grad(((y - target) ** 2).mean(), y)[0]  # dL/d(edge output) at w_k = 1
    y = y.detach()
    alphas = torch.tensor([0.1, -0.3, 0.2, 0.0, -0.1], requires_grad=True)
    p = torch.softmax((alphas.log_softmax(-1) + torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0])) / 0.5, -1)
    (expected,) = torch.autograd.grad(p[k] * (g * y).sum(), alphas)
    assert torch.allclose(alpha_one, expected, rtol=1e-4, atol=1e-7)


def test_the_gdas_rule_keeps_the_two_strongest_op_input_pairs():
    from dartslib.arch.derive import derive_darts, derive_gdas

    space = get_space("darts")
    w = {ct: torch.full((14, 8), 0.01) for ct in ("normal", "reduce")}
    ops = space.op_names("normal")
    sep, dil, skip = ops.index("sep_conv_3x3"), ops.index("dil_conv_3x3"), ops.index("skip_connect")
    w["normal"][0, sep], w["normal"][0, dil], w["normal"][1, skip] = 0.9, 0.8, 0.7  # node 2: edges 0, 1
    gdas = derive_gdas(w, space)
    assert gdas.normal[:2] == [("sep_conv_3x3", 0), ("dil_conv_3x3", 0)]  # two ops on one input, as the code
    assert derive_darts(w, space).normal[:2] == [("sep_conv_3x3", 0), ("skip_connect", 1)]  # DARTS: two inputs
    assert derive(w, space, "gdas") == gdas
    with pytest.raises(ValueError, match="DARTS-topology"):
        derive_gdas({"cell": torch.zeros(6, 5)}, "nb201")


def test_the_gdas_preset_has_the_codes_schedule():
    nb201, darts = make_config("gdas", "nb201"), make_config("gdas", "darts")
    for c in (nb201, darts):
        assert (c.op_weights, c.step_order, c.nesterov, c.weight_decay, c.lr, c.lr_min, c.lr_schedule, c.grad_clip,
                c.arch_lr, c.arch_betas, c.arch_weight_decay) == (
            "gumbel", "weights-first", True, 5e-4, 0.025, 0.001, "cosine-step", 5.0, 3e-4, (0.5, 0.999), 1e-3)
    assert (nb201.epochs, nb201.batch_size, nb201.protocol, nb201.derive) == (240, 64, "nb201", None)
    assert (darts.epochs, darts.batch_size, darts.protocol, darts.derive) == (250, 256, "darts", "gdas")
    plain = make_config("darts", "darts", op_weights="gumbel")  # control: the form alone keeps DARTS' schedule
    assert (plain.epochs, plain.step_order, plain.nesterov, plain.derive) == (50, "arch-first", False, None)
