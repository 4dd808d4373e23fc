"""Run by test_training under torchrun: trains a tiny model with DDP, then every rank saves
its own copy of the weights for the test to compare."""

import sys

import torch
import torch.distributed as dist

from counterpoint.model.network import preset
from counterpoint.training.config import TrainConfig
from counterpoint.training.loop import train

if __name__ == "__main__":
    data, out = sys.argv[1], sys.argv[2]
    config = TrainConfig(
        run_dir=f"{out}/run",
        data=data,
        model=preset("tiny"),
        crop_steps=32,
        batch_size=4,
        max_steps=12,
        eval_every=6,
        progress=False,
        patience=0,
    )
    summary = train(config)
    torch.save(summary["model"].state_dict(), f"{out}/rank{dist.get_rank()}.pt")
    dist.barrier()
    dist.destroy_process_group()
