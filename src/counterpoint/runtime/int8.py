"""Int8 inference with ONNX Runtime: the sampler's fast network on CPUs without native bf16.

On such a CPU (AVX2 only) the sampler's float32 passes are its whole cost, and PyTorch has no
int8 convolution it still maintains. So a trained model is exported to ONNX with batch norm
folded in (:mod:`counterpoint.runtime.onnx_export`) and quantized statically: int8 weights per
output channel, uint8 activations whose ranges are calibrated on chorale crops (orderless
masks, the training distribution). ONNX Runtime runs a pass of that 2.5x as fast as PyTorch's
float32 on two AVX2 threads, for a loss on erased notes 0.2% above the float network's
(``benchmarks/int8_speed.py``); the sampler's results are as good by every measure of
``benchmarks/gibbs_passes.py``.

The file lives beside its checkpoint (``jsb.pt`` -> ``jsb.int8.onnx``) and records a
fingerprint of the weights it was made from: a model whose weights differ (retrained, or
being trained) never runs an int8 file that is not its own.
"""

from __future__ import annotations

import contextlib
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.model.checkpoint import fingerprint
from counterpoint.model.network import Coconet, weights_version
from counterpoint.runtime.onnx_export import export_float32

SUFFIX = ".int8.onnx"
_FINGERPRINT_KEY = "counterpoint_weights_sha256"


def int8_path(checkpoint: str | Path) -> Path:
    """Where the int8 version of a checkpoint lives: beside it, ``x.pt`` -> ``x.int8.onnx``."""
    return Path(checkpoint).with_suffix(SUFFIX)


def quantize(model: Coconet, calibration: np.ndarray, path: str | Path) -> Path:
    """Write the int8 ONNX version of ``model`` to ``path`` (atomically), its activation ranges
    calibrated on the network inputs ``calibration`` ``(N, 8, T, P)``."""
    onnx, quantization = _import_quantization()
    from counterpoint.io.files import write_atomically

    if calibration.ndim != 4 or calibration.shape[1] != 8 or calibration.shape[-1] != model.pitch_range.size:
        raise ConfigError(
            f"calibration inputs must be (N, 8, T, {model.pitch_range.size}), got {calibration.shape}"
        )
    with tempfile.TemporaryDirectory() as folder:
        exported, prepared, quantized = (Path(folder) / name for name in ("f.onnx", "p.onnx", "q.onnx"))
        export_float32(model, exported, torch.as_tensor(calibration[:1]))
        quantization.shape_inference.quant_pre_process(str(exported), str(prepared))
        batches = iter(np.array_split(calibration.astype(np.float32), max(1, len(calibration) // 32)))

        class Reader(quantization.CalibrationDataReader):
            def get_next(self) -> dict | None:
                batch = next(batches, None)
                return None if batch is None else {"x": batch}

        quantization.quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=quantization.QuantFormat.QOperator,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            per_channel=True,
            # 7-bit weights: AVX2's u8 x s8 multiply-add saturates 16-bit sums with full 8-bit ones
            reduce_range=True,
            calibrate_method=quantization.CalibrationMethod.MinMax,
        )
        proto = onnx.load(str(quantized))
        onnx.helper.set_model_props(proto, {_FINGERPRINT_KEY: fingerprint(model)})
        data = proto.SerializeToString()
    path = Path(path)
    write_atomically(path, lambda temporary: temporary.write_bytes(data))
    return path


class Int8Network:
    """An int8 ONNX network as the sampler calls it: float32 input ``(B, 8, T, P)`` in, float32
    logits ``(B, 4, T, P)`` out, on ``threads`` threads."""

    def __init__(self, path: str | Path, threads: int) -> None:
        ort = _import_runtime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # its threads spin between passes (2-5% faster than sleeping): the sampler runs torch on
        # one thread meanwhile (torch_threads), or spinning and torch's own pool would fight for
        # the cores (2.2 s instead of 1.0 s for 2 measures on 2 cores)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for unreadable files
            raise CheckpointError(f"{path}: not a readable int8 model ({type(error).__name__})") from None
        self.fingerprint = self.session.get_modelmeta().custom_metadata_map.get(_FINGERPRINT_KEY)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(None, {"x": x.float().contiguous().numpy()})
        return torch.from_numpy(logits)


_NETWORKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def available() -> bool:
    """Whether ONNX Runtime is installed (it is a dependency, but a trimmed install may lack it)."""
    try:
        _import_runtime()
    except ConfigError:
        return False
    return True


def int8_network(model: Coconet) -> Int8Network | None:
    """The int8 network made from exactly this model's weights, or None: the model was not
    loaded from a checkpoint, has no int8 file beside it, or its weights have changed since
    (training updates them in place). A file that exists but does not load is an error."""
    source = getattr(model, "source", None)
    if source is None or not int8_path(source).exists() or not available():
        return None
    versions = weights_version(model)
    cached = _NETWORKS.get(model)
    if cached is not None and cached[0] == versions:
        return cached[1]
    network = Int8Network(int8_path(source), torch.get_num_threads())
    matched = network if network.fingerprint == fingerprint(model) else None
    _NETWORKS[model] = (versions, matched)
    return matched


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run PyTorch on ``threads`` threads inside the block: while ONNX Runtime does the heavy
    passes, torch's small ops between them are faster alone than in a pool that competes for
    the same cores (0.95 s vs 2.2 s for 2 measures on 2 cores, session 17)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _import_runtime():
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("int8 sampling needs onnxruntime: pip install onnxruntime") from None
    return onnxruntime


def _import_quantization():
    try:
        import onnx
        import onnxruntime.quantization as quantization
        import onnxruntime.quantization.shape_inference  # noqa: F401 (quant_pre_process)
    except ImportError:
        raise ConfigError("quantizing needs onnx and onnxruntime: pip install onnx onnxruntime") from None
    return onnx, quantization
