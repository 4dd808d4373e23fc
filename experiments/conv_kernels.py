"""Could a different convolution kernel make sampling fast enough on a CPU without native bf16?

The sampler spends about 89% of its time in the hidden 64->64 3x3 convolutions, on one 2-measure
input (batch 1, 32 steps x 46 pitches). PyTorch runs them through oneDNN's direct convolution.
This times one such convolution, in float32, at each dilation the shipped networks use, by
every route PyTorch offers on a CPU, plus a Winograd F(4x4, 3x3) written in PyTorch ops:

- oneDNN, channels-last (as the sampler runs it) and NCHW;
- PyTorch's own im2col + BLAS path (oneDNN switched off);
- NNPACK (Winograd in C), where it initialises on this CPU;
- Winograd F(4x4, 3x3): 36 batched 64x64 matrix products on 4x4 output tiles instead of 144
  multiply-adds per output position (4x fewer), plus the tile transforms. Undilated only (a
  dilated layer would first need its input split into dilation-by-dilation subgrids). The
  matrix products alone are timed too: what it would cost if the transforms were free.

    python experiments/conv_kernels.py [--threads 1 2] [--repeats 300]

Each row's figures come from one run, side by side, so their ratios hold even on a busy
machine; the absolute times do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

CHANNELS, STEPS, PITCHES = 64, 32, 46  # a hidden layer of the sampler's pass over 2 measures

# Winograd F(4x4, 3x3) with interpolation points 0, +-1, +-2 and infinity (Lavin and Gray 2016):
# output tile = A^T [(G g G^T) * (B^T d B)] A for a 3x3 kernel g and a 6x6 input tile d
B_T = torch.tensor(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=torch.float32,
)
G = torch.tensor(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ]
)
A_T = torch.tensor(
    [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    dtype=torch.float32,
)
# both 2-D transforms as one matrix each on a flattened tile: vec(B^T d B) = (B^T kron B^T) vec(d)
INPUT_TRANSFORM = torch.kron(B_T, B_T)  # (36, 36)
OUTPUT_TRANSFORM = torch.kron(A_T, A_T)  # (16, 36)


def winograd_weight(weight: torch.Tensor) -> torch.Tensor:
    """``(36, out, in)``: the kernel in the Winograd domain, computed once per layer."""
    transformed = G @ weight @ G.T  # (out, in, 6, 6)
    return transformed.permute(2, 3, 0, 1).reshape(36, *weight.shape[:2]).contiguous()


def winograd_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 3x3 'same' convolution of one input ``(1, in, H, W)``, by 4x4 output tiles."""
    _, channels, height, width = x.shape
    rows, cols = -(-height // 4), -(-width // 4)
    padded = F.pad(x, (1, 4 * cols + 1 - width, 1, 4 * rows + 1 - height))
    tiles = padded.unfold(2, 6, 4).unfold(3, 6, 4)[0].reshape(channels * rows * cols, 36)
    transformed = (INPUT_TRANSFORM @ tiles.T).view(36, channels, rows * cols)
    products = torch.bmm(weight, transformed)  # (36, out, tiles): the 4x cheaper part
    out = weight.shape[1]
    y = (OUTPUT_TRANSFORM @ products.view(36, -1)).view(4, 4, out, rows, cols)
    y = y.permute(2, 3, 0, 4, 1).reshape(1, out, 4 * rows, 4 * cols)[:, :, :height, :width]
    return y + bias.view(1, -1, 1, 1)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    for _ in range(20):  # warm-up: oneDNN picks and caches its kernel on the first calls
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def nnpack_works(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> bool:
    try:
        torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    except RuntimeError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    torch.manual_seed(0)
    x = torch.randn(1, CHANNELS, STEPS, PITCHES)
    weight = torch.randn(CHANNELS, CHANNELS, 3, 3) * 0.05
    bias = torch.randn(CHANNELS)
    x_last = x.contiguous(memory_format=torch.channels_last)
    weight_last = weight.contiguous(memory_format=torch.channels_last)
    wino_weight = winograd_weight(weight)
    wino_input = torch.randn(36, CHANNELS, -(-STEPS // 4) * -(-PITCHES // 4))
    with torch.inference_mode():
        error = (winograd_conv(x, wino_weight, bias) - F.conv2d(x, weight, bias, padding=1)).abs()
        has_nnpack = torch.backends.nnpack.is_available() and nnpack_works(x, weight, bias)
    print(f"one 64->64 3x3 convolution of (1, 64, {STEPS}, {PITCHES}) in float32, median ms")
    print(f"Winograd's largest difference from oneDNN: {error.max().item():.1e}")
    print(f"NNPACK: {'works' if has_nnpack else 'does not initialise on this CPU'}")
    print(
        "| threads | dilation | oneDNN channels-last | oneDNN NCHW | im2col + BLAS | NNPACK "
        "| Winograd F(4x4,3x3) | its matrix products alone |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for dilation in ((1, 1), (1, 8), (8, 8)):

            def conv(a, w, d=dilation):
                return F.conv2d(a, w, bias, padding=d, dilation=d)

            with torch.inference_mode():
                channels_last = median_ms(lambda: conv(x_last, weight_last), args.repeats)
                nchw = median_ms(lambda: conv(x, weight), args.repeats)
                torch.backends.mkldnn.enabled = False
                im2col = median_ms(lambda: conv(x, weight), args.repeats)
                torch.backends.mkldnn.enabled = True
                undilated = dilation == (1, 1)
                nnpack = winograd = products = "-"
                if undilated and has_nnpack:
                    ms = median_ms(
                        lambda: torch._nnpack_spatial_convolution(x, weight, bias, [1, 1]),
                        args.repeats,
                    )
                    nnpack = f"{ms:.3f}"
                if undilated:
                    winograd = f"{median_ms(lambda: winograd_conv(x, wino_weight, bias), args.repeats):.3f}"
                    products = f"{median_ms(lambda: torch.bmm(wino_weight, wino_input), args.repeats):.3f}"
            print(
                f"| {threads} | {dilation[0]}x{dilation[1]} | {channels_last:.3f} | {nchw:.3f} "
                f"| {im2col:.3f} | {nnpack} | {winograd} | {products} |"
            )


if __name__ == "__main__":
    main()
