"""Method presets and switches: paper values, validation, the CLI flags, each hook's numbers, resume, and one
tiny search per preset."""
import json
import math
import warnings

import pytest
import torch

from dartslib import build_supernet, make_config
from dartslib.methods.aux_skip import AuxiliarySkip, add_auxiliary_skips, aux_beta, beta_schedule, set_aux_beta
from dartslib.cli import main
from dartslib.arch.derive import derive
from dartslib.diagnostics.entropy import summed_entropy
from dartslib.methods.presets import METHODS, build_hooks, prepare_supernet
from dartslib.space.op_weights import SparseSmoothWeights
from dartslib.engine.loop import Search, SearchInterrupted, StepContext, search
from dartslib.methods.skip_noise import SkipNoise, noise_std, set_skip_noise, skip_noise_std
from dartslib.space.supernet import MixedEdge
from dartslib.methods.temperature import TemperatureMixing, p_schedule
from dartslib.methods.zero_one import ZeroOneLoss, zero_one_loss
from stop_at import StopAt  # tests/stop_at.py

TINY = dict(epochs=2, C=4, cells_per_stage=1, layers=3, max_steps_per_epoch=2, batch_size=32, image_size=8)


pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread avoids oversubscription


# ------------------------------------------------------------------------------------------ presets
def test_fairdarts_preset_has_the_authors_values():
    c = make_config("fairdarts", "darts-nonone")
    assert (c.op_weights, c.arch_init, c.zero_one_loss, c.w01, c.update) == ("sigmoid", "0", "l01", 10.0, "bilevel-1st")
    assert (c.batch_size, c.lr, c.lr_min, c.epochs) == (128, 0.005, 0.001, 50)
    assert (c.arch_lr, c.arch_betas, c.arch_weight_decay) == (3e-3, (0.9, 0.999), 1e-3)
    assert c.derive == "threshold" and c.derive_options == {"threshold": 0.85, "max_edges": 2}
    nb = make_config("fairdarts", "nb201")
    assert nb.derive is None and nb.derive_options == {}  # NB201: argmax of the sigmoid weights per edge


def test_sp_darts_preset_per_space_and_dataset():
    d = make_config("sp-darts", "darts-nonone")  # Table IV
    assert (d.op_weights, d.t_sp, d.smooth_temperature, d.p_low, d.p_up, d.p_warmup_epochs) == (
        "sparse-smooth", 1e-3, pytest.approx(1e-2), 0.0, 1.0, 1)
    assert (d.batch_size, d.lr, d.lr_schedule, d.arch_lr, d.arch_weight_decay) == (80, 0.05, "constant", 3e-4, 0.0)
    c10 = make_config("sp-darts", "nb201", dataset="cifar10")  # Table II
    c100 = make_config("sp-darts", "nb201", dataset="cifar100")
    assert (c10.t_sp, c10.p_up, c10.batch_size) == (1.1e-3, 1.0, 256)
    assert (c100.t_sp, c100.p_up, c100.smooth_temperature) == (1.3e-3, 0.9, pytest.approx(1.3e-2))
    # derived as the authors' genotype(): DARTS space 4 decimals, ties to the later input; S1-S4 3 decimals
    assert d.derive_options == {"decimals": 4, "edge_ties": "later"} and c10.derive_options == {}
    assert make_config("sp-darts", "s2").derive_options == {"decimals": 3}


def test_single_darts_and_other_presets():
    s = make_config("single-darts", "nb201")
    assert (s.update, s.epochs, s.batch_size, s.lr, s.momentum, s.weight_decay, s.lr_schedule) == (
        "single-level", 50, 64, 0.005, 0.9, 3e-4, "cosine")
    assert (s.arch_lr, s.arch_betas) == (3e-4, (0.5, 0.999))
    # Hou et al. (2021), Sec. 4.3 and 5.1.2: sigmoid op weights from sigma = 1/8, no alpha weight decay
    assert s.op_weights == "sigmoid" and s.arch_weight_decay == 0.0
    assert torch.sigmoid(torch.tensor(float(s.arch_init))) == pytest.approx(1 / 8)
    soft = make_config("single-darts-softmax", "nb201")  # Table 5's Softmax row: only the form differs
    assert (soft.op_weights, soft.arch_init) == ("softmax", "randn")
    assert {k: v for k, v in soft.to_dict().items() if k not in ("method", "op_weights", "arch_init")} == \
        {k: v for k, v in s.to_dict().items() if k not in ("method", "op_weights", "arch_init")}
    init0 = make_config("single-darts-sigmoid-init0", "nb201")  # Table 5's Sigmoid*: "init alpha as 0"
    assert (init0.op_weights, init0.arch_init, init0.arch_weight_decay) == ("sigmoid", "0", 0.0)
    with pytest.warns(FutureWarning, match="deprecated"):
        alias = make_config("single-darts-sigmoid", "nb201")
    assert {k: v for k, v in alias.to_dict().items() if k != "method"} == \
        {k: v for k, v in s.to_dict().items() if k != "method"}
    m = make_config("darts-minus", "s3")
    assert (m.aux_skip, m.aux_skip_beta0, m.aux_skip_kind, m.lr, m.arch_lr) == ("linear", 1.0, "identity", 0.025, 3e-4)
    assert make_config("darts-gaussian", "nb201").skip_noise and make_config("darts-gaussian", "nb201").skip_noise_std == 1
    assert make_config("darts-m2", "darts").derive_options == {"max_skip": 2}
    assert make_config("darts-large-arch-lr", "nb201").arch_lr == 0.1
    assert make_config("darts-noskip", "nb201").space == "nb201-noskip"
    noskip = make_config("darts-noskip", "darts")  # FairDARTS' S1 \\ {skip}: 6 ops, neither none nor skip
    assert noskip.space == "darts-nonone-noskip"
    from dartslib.space.spaces import get_space
    assert get_space(noskip.space).op_names("normal") == (
        "max_pool_3x3", "avg_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
    assert make_config("darts-noskip", "darts-nonone").space == "darts-nonone-noskip"
    assert make_config("darts-noskip", "darts-noskip").space == "darts-noskip"


def test_scale_and_user_values_override_the_preset():
    c = make_config("fairdarts", "nb201", "toy", lr=0.01)
    assert (c.dataset, c.epochs, c.batch_size, c.lr, c.zero_one_loss) == ("digits", 10, 64, 0.01, "l01")


def test_switches_compose():
    c = make_config("fairdarts", "darts-nonone", aux_skip="linear", skip_noise=True)
    hooks = build_hooks(c)
    assert [type(h).__name__ for h in hooks] == ["AuxiliarySkip", "SkipNoise", "ZeroOneLoss"]
    assert [type(h).__name__ for h in build_hooks(make_config("sp-darts", "nb201"))] == ["TemperatureMixing"]
    assert build_hooks(make_config("darts", "nb201")) == []


@pytest.mark.parametrize("method, space, message", [
    ("fairdarts", "darts", "darts-nonone"),
    ("darts-m2", "nb201", "does not run on space"),
    ("darts-gaussian", "s4", "skip_connect"),
    ("darts-m2", "darts-noskip", "skip_connect"),
    ("darts-noskip", "s2", "no skip-free version"),
    ("nonsense", "nb201", "unknown method"),
])
def test_combinations_that_make_no_sense_are_refused(method, space, message):
    with pytest.raises(ValueError, match=message):
        make_config(method, space)


@pytest.mark.parametrize("field, value", [
    ("op_weights", "relu"), ("arch_init", "big"), ("zero_one_loss", "l2"), ("w01", -1.0), ("aux_skip", "exp"),
    ("aux_skip_beta0", -0.5), ("aux_skip_kind", "conv3x3"), ("aux_skip_decay_epochs", 0), ("skip_noise_std", -1.0),
    ("t_sp", 0.0), ("t_sm", 1e-4), ("p_low", 0.5), ("p_up", 1.5), ("p_warmup_epochs", -1), ("derive", "argmax"),
])
def test_bad_values_name_the_field(field, value):
    values = {"p_up": 0.2} if field == "p_low" else {}
    with pytest.raises(ValueError, match=field):
        make_config("darts", "darts", **{**values, field: value})


def test_bad_combinations_of_switches():
    with pytest.raises(ValueError, match="skip_connect"):
        make_config("darts", "darts-noskip", skip_noise=True)
    with pytest.raises(ValueError, match="max_skip"):
        make_config("fairdarts", "darts-nonone", derive_options={"threshold": 0.85, "max_skip": 2})
    with pytest.raises(ValueError, match="threshold"):
        make_config("darts", "nb201", derive="threshold")


def test_zero_one_loss_with_softmax_warns():
    with pytest.warns(UserWarning, match="sigmoid"):
        build_hooks(make_config("darts", "nb201", zero_one_loss="l01"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_hooks(make_config("fairdarts", "nb201"))


# ------------------------------------------------------------------------------------------ the CLI
# --epochs must be positive: one epoch of a 2-channel supernet with large batches is the cheapest run
ONE_EPOCH = ["--epochs", "1", "--C", "2", "--cells-per-stage", "1", "--layers", "3", "--batch-size", "512"]


def test_cli_flags_reach_the_config(capsys, tmp_path):
    rc = main(["search", "--method", "fairdarts", "--space", "nb201", "--aux-skip", "cosine", "--beta0", "0.7",
               "--zero-one", "l01-abs", "--w01", "5", "--skip-noise", "--update", "single-level", *ONE_EPOCH,
               "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    config = json.loads((tmp_path / "result.json").read_text())["config"]
    assert (config["aux_skip"], config["aux_skip_beta0"], config["zero_one_loss"], config["w01"]) == (
        "cosine", 0.7, "l01-abs", 5.0)
    assert config["skip_noise"] and config["update"] == "single-level" and config["op_weights"] == "sigmoid"


def test_cli_derive_and_max_skip_and_zero_one_off(capsys, tmp_path):
    rc = main(["search", "--method", "fairdarts", "--space", "darts-nonone", "--derive", "darts", "--max-skip", "2",
               "--zero-one", "none", *ONE_EPOCH, "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    config = json.loads((tmp_path / "result.json").read_text())["config"]
    assert config["derive"] == "darts" and config["derive_options"] == {"max_skip": 2}
    assert config["zero_one_loss"] is None


@pytest.mark.parametrize("argv, message", [
    (["--method", "fairdarts", "--space", "darts"], "darts-nonone"),
    (["--method", "darts-m2", "--space", "nb201"], "does not run on space"),
    (["--method", "fairdarts", "--space", "darts-nonone", "--max-skip", "2"], "max_skip"),
    (["--method", "sp-darts", "--t-sp", "-1"], "--t-sp"),
    (["--skip-noise", "--space", "nb201-noskip"], "skip_connect"),
])
def test_cli_refuses_bad_combinations_in_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["search", *argv, "--epochs", "1", "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


# ------------------------------------------------------------------------------------------ the pieces
def test_zero_one_loss_values():
    assert zero_one_loss(torch.full((3, 4), 0.5)).item() == 0.0
    ends = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert zero_one_loss(ends).item() == pytest.approx(-0.25)
    assert zero_one_loss(ends, "l01-abs").item() == pytest.approx(-0.5)
    gates = {"normal": torch.tensor([[0.9, 0.5]]), "reduce": torch.tensor([[0.2, 0.5], [0.5, 0.5]])}  # N = 6
    assert zero_one_loss(gates).item() == pytest.approx(-(0.4 ** 2 + 0.3 ** 2) / 6)
    assert zero_one_loss(gates, "l01-abs").item() == pytest.approx(-(0.4 + 0.3) / 6)
    z = torch.tensor([0.5, 0.6], requires_grad=True)
    zero_one_loss(z).backward()  # dL01/dz = -2 (z - 0.5) / N: nothing at 0.5, growing away from it
    assert z.grad.tolist() == pytest.approx([0.0, -0.1])
    with pytest.raises(ValueError):
        zero_one_loss(z, "l3")


def test_zero_one_hook_adds_w01_times_the_loss():
    model = build_supernet("nb201", C=4, cells_per_stage=1, op_weights="sigmoid")
    with torch.no_grad():
        model.arch_params["cell"].fill_(math.log(9))  # every gate at 0.9
    assert ZeroOneLoss("l01", 10.0).arch_loss(model).item() == pytest.approx(10 * -(0.4 ** 2), rel=1e-5)


def test_beta_schedules():
    assert beta_schedule("linear", 0, 50) == 1.0 and beta_schedule("linear", 49, 50) == pytest.approx(1 / 50)
    assert beta_schedule("linear", 10, 50, beta0=0.5) == pytest.approx(0.5 * 0.8)
    assert beta_schedule("cosine", 0, 50) == 1.0 and beta_schedule("cosine", 25, 50) == pytest.approx(0.5)
    assert beta_schedule("step", 44, 50) == 1.0 and beta_schedule("step", 45, 50) == 0.0
    assert beta_schedule("constant", 49, 50, beta0=0.7) == 0.7
    # long searches: hold beta0, decay over the last 50 epochs only (Chu et al., 2021, Sec. 4.4)
    assert beta_schedule("linear", 99, 150, decay_epochs=50) == 1.0
    assert beta_schedule("linear", 100, 150, decay_epochs=50) == 1.0
    assert beta_schedule("linear", 149, 150, decay_epochs=50) == pytest.approx(1 / 50)
    with pytest.raises(ValueError):
        beta_schedule("exponential", 0, 10)


def test_p_schedule_eq_20_as_the_authors_code():
    # train_search_mf.py: C += 1 / (E - i_wp) at the start of every epoch after the warm-up
    assert p_schedule(0, 50) == 0.0  # warm-up
    assert p_schedule(1, 50) == pytest.approx(1 / 49) and p_schedule(49, 50) == 1.0
    assert p_schedule(25, 50) == pytest.approx(25 / 49)
    assert p_schedule(1, 50, p_low=0.2, p_up=0.9) == pytest.approx(0.2 + 0.7 / 49)
    assert p_schedule(49, 50, p_low=0.2, p_up=0.9) == pytest.approx(0.9)
    assert p_schedule(44, 50, p_up=0.9) == pytest.approx(0.9 * 44 / 49)  # DARTS-V1-100.py's C at epoch 44
    assert [p_schedule(e, 3, warmup_epochs=2) for e in range(3)] == [0.0, 0.0, 1.0]
    assert p_schedule(0, 10, p_low=1.0, warmup_epochs=0) == 1.0
    code, c = [], 0.0  # the code's loop, transcribed
    for epoch in range(50):
        if epoch >= 1:
            c += 1 / (50 - 1)
        code.append(c)
    assert [p_schedule(e, 50) for e in range(50)] == pytest.approx(code)


def test_noise_std_decays_with_a_cosine():
    assert noise_std(0, 50) == 1.0 and noise_std(25, 50) == pytest.approx(0.5) and noise_std(49, 50) < 0.01
    # FairDARTS' code: --max_step 30 (T_max), no noise after it
    assert noise_std(15, 50, decay_epochs=30) == pytest.approx(0.5) and noise_std(31, 50, decay_epochs=30) == 0.0
    assert make_config("darts-gaussian", "nb201").skip_noise_decay_epochs is None  # the paper's 50 = the epochs
    hook = build_hooks(make_config("darts-gaussian", "nb201", skip_noise_decay_epochs=30))[0]
    assert isinstance(hook, SkipNoise) and hook.decay_epochs == 30
    with pytest.raises(ValueError, match="skip_noise_decay_epochs"):
        make_config("darts-gaussian", "nb201", skip_noise_decay_epochs=0)


def test_skip_noise_only_on_stride_one_edges():
    model = build_supernet("darts", C=4, layers=3)
    set_skip_noise(model, 0.7)
    edges = [m for m in model.modules() if isinstance(m, MixedEdge)]
    assert {skip_noise_std(e) for e in edges if e.stride == 1} == {0.7}
    stride2 = [e for e in edges if e.stride == 2]
    assert len(stride2) == 2 * 8 and {skip_noise_std(e) for e in stride2} == {0.0}  # 8 input edges x 2 reductions


def test_temperature_mixing_draws_and_sets_the_form():
    model = build_supernet("nb201", C=4, cells_per_stage=1)
    prepare_supernet(model, make_config("sp-darts", "nb201"))
    form = model.op_weight_form
    assert isinstance(form, SparseSmoothWeights) and form.temperature == pytest.approx(1.1e-2)
    hook = TemperatureMixing(1e-3, 1e-2, warmup_epochs=1, seed=0)
    seen = set()
    for epoch in range(3):
        hook.on_epoch_start(model, epoch, 3)
        for step in range(20):
            hook.before_step(model, StepContext(epoch, 3, step, 20))
            seen.add((epoch, form.temperature))
    assert seen == {(0, 1e-2), (1, 1e-2), (1, 1e-3), (2, 1e-3)}  # p = 0, 1/2, 1 with 3 epochs
    hook.eval_mode(model)
    assert form.temperature == 1e-2 and hook.describe()["eval_temperature"] == 1e-2
    alphas = torch.tensor([[0.0, 0.001, 0.002]])
    # derived at t_sp, as train_search_mf.py's model.genotype(temp)
    assert torch.equal(form.derivation_weights(alphas), torch.softmax(alphas / 1e-3, -1))
    assert hook.describe()["derive_temperature"] == 1e-3


def test_temperature_mixing_warmup_temperature():
    model = build_supernet("nb201", C=4, cells_per_stage=1, op_weights="sparse-smooth")
    hook = TemperatureMixing(1e-3, 1e-2, warmup_epochs=1, seed=0, warmup_temperature=10.0)
    hook.before_step(model, StepContext(0, 3, 0, 5))
    assert model.op_weight_form.temperature == 10.0  # the code's epoch 0
    hook.before_step(model, StepContext(2, 3, 0, 5))
    assert model.op_weight_form.temperature == 1e-3  # p = 1 in the last epoch
    assert make_config("sp-darts", "darts-nonone").t_warmup is None  # the paper: t_sm in the warm-up
    assert build_hooks(make_config("sp-darts", "nb201", t_warmup=10.0))[0].warmup_temperature == 10.0
    with pytest.raises(ValueError, match="t_warmup"):
        make_config("sp-darts", "nb201", t_warmup=0.0)


def test_temperature_hook_state_round_trip():
    model = build_supernet("nb201", C=4, cells_per_stage=1, op_weights="sparse-smooth")
    a, b = TemperatureMixing(p_low=0.5, p_up=0.5, warmup_epochs=0, seed=3), TemperatureMixing(seed=99)

    def draws(hook, n=30):
        out = []
        for step in range(n):
            hook.before_step(model, StepContext(1, 4, step, n))
            out.append(model.op_weight_form.temperature)
        return out

    draws(a)
    b.load_state_dict(a.state_dict())
    b.p_low, b.p_up, b.warmup_epochs = a.p_low, a.p_up, a.warmup_epochs
    assert draws(a) == draws(b)
    assert len(set(draws(a))) == 2


def test_auxiliary_skip_module():
    model = build_supernet("darts", C=4, layers=3)
    before = sum(p.numel() for p in model.parameters())
    assert add_auxiliary_skips(model, "identity") == 3 * 14
    added = sum(p.numel() for p in model.parameters()) - before
    # FactorizedReduce(C, C) (C^2 weights) on the 8 stride-2 edges of each reduction cell (C = 8 and 16)
    assert added == 8 * 8 ** 2 + 8 * 16 ** 2
    edge = MixedEdge(["skip_connect", "nor_conv_3x3"], 4, 1)
    x = torch.randn(2, 4, 5, 5)
    w = torch.tensor([0.3, 0.7])
    plain = edge(x, w)
    add_auxiliary_skips(edge, "identity")
    assert torch.equal(edge(x, w), plain)  # beta = 0: nothing changes
    set_aux_beta(edge, 0.5)
    assert torch.allclose(edge(x, w), plain + 0.5 * x)  # beta x outside the weighted sum (Eq. 4)
    add_auxiliary_skips(edge, "conv1x1")
    assert torch.allclose(edge(x, w), plain + 0.5 * x, atol=1e-6)  # the 1x1 conv starts as the identity
    hook = AuxiliarySkip("linear", 1.0)
    hook.before_step(edge, StepContext(3, 10, 0, 5))
    assert aux_beta(edge) == pytest.approx(0.7) and hook.describe() == {"aux_beta": pytest.approx(0.7)}


def test_switches_off_leave_the_supernet_unchanged():
    torch.manual_seed(0)
    a = build_supernet("darts", C=4, layers=3)
    torch.manual_seed(0)
    b = build_supernet("darts", C=4, layers=3)
    prepare_supernet(b, make_config("fairdarts", "darts-nonone"))  # switches that add no module
    assert a.state_dict().keys() == b.state_dict().keys()
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())


def test_skip_noise_only_in_training_mode():
    edge = MixedEdge(["skip_connect", "nor_conv_1x1"], 4, 1)
    x, w = torch.randn(2, 4, 5, 5), torch.tensor([0.5, 0.5])
    edge.eval()
    clean = edge(x, w)
    set_skip_noise(edge, 1.0)
    assert torch.equal(edge(x, w), clean)
    edge.train()
    noisy = edge(x, w) - edge.ops[1](x) * 0.5 - 0.5 * x  # the weighted noise alone
    assert 0.3 < noisy.std().item() < 0.7
    hook = SkipNoise(1.0)
    hook.before_step(edge, StepContext(25, 50, 0, 1))
    assert skip_noise_std(edge) == pytest.approx(0.5) and hook.describe() == {"skip_noise_std": pytest.approx(0.5)}


def test_summed_entropy():
    assert summed_entropy(torch.full((6, 5), 0.2)) == pytest.approx(6 * math.log(5))
    assert summed_entropy({"normal": [[1.0, 0.0]], "reduce": [[0.5, 0.5]]}) == pytest.approx(math.log(2))


# ------------------------------------------------------------------------------------------ searches


@pytest.mark.parametrize("method, space", [("sp-darts", "nb201"), ("darts-minus", "nb201"),
                                           ("darts-gaussian", "nb201")])
def test_methods_resume_bit_identically(tmp_path, method, space):
    config = make_config(method, space, "toy", **{**TINY, "epochs": 3, "max_steps_per_epoch": 3})
    straight = search(config, progress=False)
    run = Search(config, tmp_path, progress=False)
    stopper = StopAt(1, 1)
    stopper.search = run
    run.hooks.append(stopper)
    with pytest.raises(SearchInterrupted):
        run.run()
    resumed = Search.resume(tmp_path, progress=False).run()
    for a, b in zip(straight.model.arch_parameters(), resumed.model.arch_parameters()):
        assert torch.equal(a, b)
    keep = lambda h: {k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
    assert [keep(h) for h in straight.history] == [keep(h) for h in resumed.history]


def test_sp_darts_records_its_temperatures():
    result = search(make_config("sp-darts", "nb201", "toy", **{**TINY, "epochs": 3}), progress=False)
    first, last = result.history[0], result.history[-1]
    assert first["sp_p"] == 0.0 and last["sp_p"] == 1.0 and last["sp_sparse_fraction"] == 1.0
    assert last["eval_temperature"] == pytest.approx(1.1e-2) and last["derive_temperature"] == 1.1e-3
    assert sum(last["op_weights"]["cell"][0]) == pytest.approx(1.0)


def test_aux_skip_is_ignored_by_derivation():
    result = search(make_config("darts-minus", "nb201", "toy", **TINY), progress=False)
    model = result.model
    assert not any(".aux_skip." in k for k in model.state_dict())  # identity branches have no weights
    assert result.history[-1]["aux_beta"] == pytest.approx(0.5)
    with torch.no_grad():
        assert result.genotype == str(derive(model.op_weights(), model.space))
    conv = search(make_config("darts-minus", "nb201", "toy", aux_skip_kind="conv1x1", **TINY), progress=False)
    assert any(".aux_skip." in k for k in conv.model.state_dict())
    with torch.no_grad():
        assert conv.genotype == str(derive(conv.model.op_weights(), conv.model.space))


def test_update_schemes_use_the_single_darts_data():
    for update, split in (("single-level", "test"), ("same-subset", "test"), ("bilevel-1st", "valid")):
        run = Search(make_config("darts", "nb201", "toy", update=update, **TINY), progress=False)
        assert run.eval_split == split
    same = Search(make_config("darts", "nb201", "toy", update="same-subset", **TINY), progress=False)
    x_arch, _ = next(same.arch_stream)
    x_weight, _ = next(iter(same.train_batches.epoch(0)))
    assert not torch.equal(x_arch, x_weight)  # other batches of the same data


@pytest.mark.parametrize("method", [m for m in METHODS if m != "darts-m2"])
def test_every_preset_runs_on_nb201(method):
    result = search(make_config(method, "nb201", "toy", **TINY), progress=False)
    assert result.genotype.startswith("|") and len(result.history) == 2


@pytest.mark.parametrize("method, space", [("fairdarts", "darts-nonone"), ("darts-m2", "darts"), ("gdas", "darts"),
                                           ("pc-darts", "darts")])
def test_darts_topology_presets_run(method, space):
    result = search(make_config(method, space, "toy", **{**TINY, "epochs": 1, "max_steps_per_epoch": 1}),
                    progress=False)
    assert result.genotype.startswith("Genotype(")
