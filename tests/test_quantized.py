"""The int8 network: made from a checkpoint, close to the float one, used by the sampler only
with the weights it was made from, and a clear error when its file is broken."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.data import masks
from counterpoint.data.batches import calibration_set, pianoroll_batch
from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.model.checkpoint import save
from counterpoint.model.network import Coconet, preset
from counterpoint.model.products import combine
from counterpoint.model.registry import load_model
from counterpoint.runtime.backend import bf16_is_fast, inference_model
from counterpoint.runtime.int8 import int8_network, int8_path, quantize
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.samplers import sample
from counterpoint.tasks import harmonize


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture()
def quantized_model(tiny_checkpoint, chorale):
    model = load_model(tiny_checkpoint)
    quantize(model, calibration_set([chorale], model.pitch_range, crops=32), int8_path(tiny_checkpoint))
    return model


def test_the_int8_file_sits_beside_its_checkpoint(quantized_model, tiny_checkpoint):
    assert int8_path(tiny_checkpoint) == tiny_checkpoint.with_name("tiny.int8.onnx")
    assert int8_path(tiny_checkpoint).stat().st_size > 0
    assert int8_network(quantized_model) is not None


def _exact_and_int8(model, chorale) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of the float network and of its int8 file on 4 masked windows."""
    windows = np.stack([chorale[start : start + 32] for start in (0, 16, 32, 48)])
    pianoroll = pianoroll_batch(windows, model.pitch_range)
    known = masks.orderless(4, 32, torch.Generator().manual_seed(1))
    x = torch.cat([pianoroll * known[..., None], known[..., None].expand_as(pianoroll).float()], 1)
    with torch.inference_mode():
        exact = inference_model(model, torch.float32)(x).log_softmax(-1)
    return exact, int8_network(model)(x).log_softmax(-1)


def test_int8_logits_are_close_to_the_float_network(quantized_model, chorale):
    exact, approximate = _exact_and_int8(quantized_model, chorale)
    assert approximate.shape == exact.shape
    assert (approximate.argmax(-1) == exact.argmax(-1)).float().mean() > 0.9
    assert (approximate.exp() - exact.exp()).abs().max() < 0.1


def test_a_product_of_networks_quantizes_to_their_product(chorale, tmp_path):
    """A product is exported as its members one after the other (faster in int8 than grouped
    convolutions), so its int8 network must still compute the product."""
    torch.manual_seed(1)
    product = combine([Coconet(preset("tiny")).eval() for _ in range(2)])
    save(tmp_path / "product.pt", product)
    product = load_model(tmp_path / "product.pt")
    calibration = calibration_set([chorale], product.pitch_range, crops=32)
    quantize(product, calibration, int8_path(tmp_path / "product.pt"))
    exact, approximate = _exact_and_int8(product, chorale)
    assert approximate.shape == exact.shape == (4, 4, 32, 46)
    assert (approximate.exp() - exact.exp()).abs().max() < 0.1


def test_the_sampler_runs_int8_when_asked_and_by_default(quantized_model, chorale):
    assert SamplerConfig(precision="int8").resolve_precision(quantized_model) == "int8"
    assert SamplerConfig().resolve_precision(quantized_model) == "int8"
    config = SamplerConfig(passes=6, precision="int8")
    threads = torch.get_num_threads()
    melody = chorale[:32, 0]
    first = harmonize(quantized_model, melody, sampler=config, seed=3).chorale
    np.testing.assert_array_equal(first[:, 0], melody)
    np.testing.assert_array_equal(first, harmonize(quantized_model, melody, sampler=config, seed=3).chorale)
    # a batch equals its pieces sampled one by one
    roll = torch.from_numpy(pianoroll_batch(chorale[None, :32], quantized_model.pitch_range).numpy())
    known = torch.from_numpy(masks.harmonize_mask(32, [0]))[None]
    batch = sample(quantized_model, roll.expand(2, -1, -1, -1), known.expand(2, -1, -1), config, seeds=[5, 6])
    alone = sample(quantized_model, roll, known, config, seeds=[6])
    torch.testing.assert_close(batch[1:], alone)
    assert torch.get_num_threads() == threads  # the sampler's one torch thread is given back


def test_changed_weights_never_run_a_stale_int8_file(quantized_model):
    with torch.no_grad():
        quantized_model.output.bias.add_(0.5)  # as a training step would, in place
    assert int8_network(quantized_model) is None
    assert SamplerConfig(precision="float32").resolve_precision(quantized_model) == "float32"
    expected = "bfloat16" if bf16_is_fast() else "float32"
    assert SamplerConfig().resolve_precision(quantized_model) == expected
    with pytest.raises(ConfigError, match="counterpoint quantize"):
        SamplerConfig(precision="int8").resolve_precision(quantized_model)


def test_a_model_without_int8_file_refuses_int8(tiny_model):
    with pytest.raises(ConfigError, match="no int8 file"):
        SamplerConfig(precision="int8").resolve_precision(tiny_model)


def test_a_broken_int8_file_is_a_clear_error(tiny_checkpoint):
    int8_path(tiny_checkpoint).write_bytes(b"not an onnx model")
    with pytest.raises(CheckpointError, match="not a readable int8 model"):
        int8_network(load_model(tiny_checkpoint))


def test_quantize_command_then_harmonize_with_it(tiny_checkpoint, bach_path, chorale, tmp_path):
    from counterpoint.io import write_chorale

    result = run("quantize", tiny_checkpoint, "--data", bach_path, "--crops", 16)
    assert result.exit_code == 0, result.output
    assert "tiny.int8.onnx" in result.output and int8_path(tiny_checkpoint).exists()
    write_chorale(chorale[:32], tmp_path / "melody.npy")
    output = tmp_path / "out.mid"
    result = run("harmonize", tmp_path / "melody.npy", "-o", output, "-c", tiny_checkpoint, "--passes", 4)
    assert result.exit_code == 0, result.output
    result = run("quantize", tmp_path / "missing.pt")
    assert result.exit_code == 2 and "missing.pt" in result.output


def test_precision_option_on_the_command_line(tiny_checkpoint, chorale, tmp_path):
    from counterpoint.io import write_chorale

    write_chorale(chorale[:32], tmp_path / "melody.npy")
    harmonize = ["harmonize", tmp_path / "melody.npy", "-o", tmp_path / "out.mid", "-c", tiny_checkpoint]
    assert run(*harmonize, "--passes", 2, "--precision", "float32").exit_code == 0
    result = run(*harmonize, "--precision", "int8")
    assert result.exit_code == 2 and "counterpoint quantize" in result.output
    result = run(*harmonize, "--precision", "fp8")
    assert result.exit_code == 2 and "unknown precision 'fp8'" in result.output


def test_the_shipped_int8_file_is_made_from_the_shipped_weights():
    # exporting new weights over jsb.pt without `counterpoint quantize` would silently fall back
    # to float32 on CPUs without bf16: 2.5x slower passes
    model = load_model("jsb")
    assert int8_path(model.source).exists()
    assert int8_network(model) is not None


def test_cached_harmonizations_follow_the_int8_file(quantized_model, tiny_checkpoint, chorale, tmp_path):
    from counterpoint.evaluation import harmonize_sopranos

    sampler = SamplerConfig(passes=2, precision="int8")
    cache = tmp_path / "cache"
    harmonize_sopranos(quantized_model, [chorale[:16]], sampler, progress=False, cache=cache)
    harmonize_sopranos(quantized_model, [chorale[:16]], sampler, progress=False, cache=cache)
    assert len(list(cache.glob("harmonized-*.npy"))) == 1  # reused
    # the same weights quantized again, calibrated on other crops: another int8 network
    before = int8_path(tiny_checkpoint).read_bytes()
    quantize(
        quantized_model,
        calibration_set([chorale], quantized_model.pitch_range, crops=4),
        int8_path(tiny_checkpoint),
    )
    assert int8_path(tiny_checkpoint).read_bytes() != before
    harmonize_sopranos(quantized_model, [chorale[:16]], sampler, progress=False, cache=cache)
    assert len(list(cache.glob("harmonized-*.npy"))) == 2
