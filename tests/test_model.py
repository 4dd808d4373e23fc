import pytest
import torch

from counterpoint.errors import CheckpointError, ConfigError, MissingFileError
from counterpoint.model.checkpoint import load, save
from counterpoint.model.network import PRESETS, Coconet, ModelConfig, make_input, preset
from counterpoint.model.products import combine, deepen, fuse_batch_norm, split


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_maps_input_to_logits(name):
    model = Coconet(preset(name)).eval()
    for steps in (8, 17, 32):
        x = torch.zeros(2, 8, steps, 46)
        with torch.no_grad():
            assert model(x).shape == (2, 4, steps, 46)


def test_make_input_zeroes_unknown_notes():
    roll = torch.ones(1, 4, 3, 46)
    known = torch.tensor([[[1, 0, 1]] * 4], dtype=torch.bool)
    x = make_input(roll, known)
    assert x.shape == (1, 8, 3, 46)
    assert x[0, :4, :, :].sum(-1).tolist() == [[46, 0, 46]] * 4
    assert x[0, 4:, 1].sum() == 0 and x[0, 4:, 0].sum() == 4 * 46


def test_checkpoint_round_trip_rebuilds_the_network(tmp_path):
    config = preset("tiny")
    config.dilations = [(1, 1), (2, 2)]
    model = Coconet(config).eval()
    save(tmp_path / "m.pt", model)
    again = load(tmp_path / "m.pt")
    assert again.config == model.config
    x = torch.randn(1, 8, 16, 46)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))


def test_half_precision_checkpoint_loads(tmp_path):
    model = Coconet(preset("tiny")).eval()
    save(tmp_path / "h.pt", model, half=True)
    save(tmp_path / "f.pt", model)
    assert (tmp_path / "h.pt").stat().st_size < 0.75 * (tmp_path / "f.pt").stat().st_size
    again = load(tmp_path / "h.pt")
    x = torch.randn(1, 8, 16, 46)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), atol=0.05, rtol=0.05)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(MissingFileError):
        load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="not a counterpoint checkpoint"):
        load(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a counterpoint checkpoint"):
        load(other)
    model = Coconet(preset("tiny"))
    save(tmp_path / "old.pt", model, extra={"format": 999})
    with pytest.raises(CheckpointError, match="format 999 is not supported"):
        load(tmp_path / "old.pt")


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        preset("huge")


def _trained_looking(model: Coconet) -> Coconet:
    """``model`` with random batch-norm statistics, as after training, in eval mode."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("name", ["tiny", "doodle"])
def test_fused_batch_norm_computes_the_same_function(name, tmp_path):
    torch.manual_seed(0)
    config = preset(name)
    config.layers = 6
    model = _trained_looking(Coconet(config))
    fused = fuse_batch_norm(model)
    assert fused.fused and not model.fused
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    width = 2 * model.receptive_field() + 1
    x = make_input(torch.rand(2, 4, width, 46).round(), torch.rand(2, 4, width) > 0.5)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fused.forward_center(x), model.forward_center(x), atol=1e-4, rtol=1e-4)
    assert fuse_batch_norm(fused) is fused
    with pytest.raises(ConfigError):
        save(tmp_path / "fused.pt", fused)


def test_deepen_computes_the_same_function_then_learns():
    torch.manual_seed(0)
    model = Coconet(preset("tiny"))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.weight.uniform_(0.5, 1.5)
    model.eval()
    deeper = deepen(model, 8).eval()
    assert deeper.config.layers == 8 and len(deeper.hidden) == 6
    x = make_input(torch.rand(2, 4, 24, 46).round(), torch.rand(2, 4, 24) > 0.5)
    with torch.no_grad():
        torch.testing.assert_close(deeper(x), model(x), rtol=0, atol=0)
    # the new pairs are not dead: their weights receive gradient
    deeper.train()
    deeper(x).logsumexp(-1).sum().backward()
    assert deeper.hidden[5].norm.weight.grad.abs().sum() > 0
    for layers in (4, 7, 2):
        with pytest.raises(ConfigError, match="cannot grow"):
            deepen(model, layers)


def test_dropout_acts_in_training_only():
    torch.manual_seed(0)
    plain = Coconet(preset("tiny"))
    config = preset("tiny")
    config.dropout = 0.5
    dropped = Coconet(config)
    dropped.load_state_dict(plain.state_dict())  # dropout adds no weights
    x = make_input(torch.rand(2, 4, 16, 46).round(), torch.rand(2, 4, 16) > 0.5)
    with torch.no_grad():
        torch.testing.assert_close(dropped.eval()(x), plain.eval()(x), rtol=0, atol=0)
        assert torch.equal(fuse_batch_norm(dropped.eval()).train()(x), fuse_batch_norm(dropped)(x))
        dropped.train()
        assert not torch.equal(dropped(x), dropped(x))
    with pytest.raises(ConfigError, match="invalid model config"):
        Coconet(preset("tiny").__class__(dropout=1.0))


def test_channel_dropout_drops_whole_feature_maps():
    config = preset("tiny")
    config.dropout, config.dropout_channels = 0.5, True
    model = Coconet(config).train()
    assert ModelConfig.from_dict(config.to_dict()) == config
    torch.manual_seed(0)
    maps = model.dropout(torch.ones(3, 16, 8, 46))
    per_map = maps.flatten(2)
    # every (example, channel) map is all zero or all scaled by 1 / (1 - p)
    assert torch.all((per_map == 0).all(-1) | (per_map == 2).all(-1))
    assert 0 < (per_map == 0).all(-1).float().mean() < 1
    assert torch.equal(model.eval().dropout(maps), maps)


@pytest.mark.parametrize("separable", [False, True])
def test_combine_is_the_product_of_its_networks(separable, tmp_path):
    """One network computing all members at once: each step's distribution is the normalized
    geometric mean of the members' distributions, in every forward path and after a reload."""
    torch.manual_seed(0)
    config = ModelConfig(layers=6, filters=8, dilations=[(1, 1), (2, 2)], separable=separable)
    members = [_trained_looking(Coconet(config)) for _ in range(3)]
    product = combine(members)
    assert product.config.members == 3 and product.receptive_field() == members[0].receptive_field()
    width = 2 * product.receptive_field() + 1
    x = make_input(torch.rand(2, 4, width, 46).round(), torch.rand(2, 4, width) > 0.5)
    with torch.no_grad():
        log_probs = torch.stack([torch.log_softmax(m(x), -1) for m in members])
        expected = torch.log_softmax(log_probs.mean(0), -1)
        torch.testing.assert_close(torch.log_softmax(product(x), -1), expected, atol=1e-5, rtol=1e-5)
        middle = product(x)[:, :, width // 2 : width // 2 + 1]
        torch.testing.assert_close(product.forward_center(x), middle, atol=1e-5, rtol=1e-5)
        fused = fuse_batch_norm(product)
        torch.testing.assert_close(fused(x), product(x), atol=1e-4, rtol=1e-4)
        # the product is not any one member: the check above can fail
        assert (torch.log_softmax(members[0](x), -1) - expected).abs().max() > 0.01
    save(tmp_path / "product.pt", product)
    again = load(tmp_path / "product.pt")
    assert again.config == product.config
    with torch.no_grad():
        torch.testing.assert_close(again(x), product(x))


def test_split_gives_back_the_members():
    torch.manual_seed(0)
    members = [_trained_looking(Coconet(preset("tiny"))) for _ in range(2)]
    again = split(combine(members))
    assert [m.config for m in again] == [m.config for m in members]
    for before, after in zip(members, again, strict=True):
        for name, value in before.state_dict().items():
            assert torch.equal(after.state_dict()[name], value), name
    assert split(members[0]) == [members[0]]


def test_combine_refuses_networks_that_do_not_fit():
    tiny = Coconet(preset("tiny")).eval()
    with pytest.raises(ConfigError, match="at least two"):
        combine([tiny])
    wider = Coconet(ModelConfig(layers=4, filters=32)).eval()
    with pytest.raises(ConfigError, match="one architecture"):
        combine([tiny, wider])
    with pytest.raises(ConfigError, match="one architecture"):
        combine([combine([tiny, tiny]), tiny])


def test_single_network_config_is_written_as_before_members():
    """Checkpoints and evaluation caches of single networks are keyed on the config's dict:
    adding ``members`` must not change it."""
    assert "members" not in preset("tiny").to_dict()
    assert ModelConfig.from_dict(preset("tiny").to_dict()).members == 1
    assert ModelConfig(layers=4, filters=16, members=2).to_dict()["members"] == 2
