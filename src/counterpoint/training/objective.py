"""The training objective: the masked NLL of the erased notes (nats per note), the
cross-entropy from a teacher's distributions, and a model's loss on fixed validation windows."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from counterpoint.model.network import Coconet, make_input


def masked_nll(logits: torch.Tensor, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Per example, the mean NLL (nats) of the erased, sounding notes: ``(B,)``.

    Equal to the paper's rescaled loss (sum over erased notes x notes / erased) divided by
    the number of notes in the crop. Silent targets (all-zero rows) carry no loss."""
    return masked_cross_entropy(logits, pianoroll, pianoroll, known)


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, pianoroll: torch.Tensor, known: torch.Tensor
) -> torch.Tensor:
    """Per example, the mean cross-entropy (nats) from ``targets`` (distributions over pitch,
    ``(B, 4, T, P)``: Bach's one-hot notes, or a teacher's probabilities) to the model's, over
    the notes :func:`masked_nll` scores: erased, and sounding in ``pianoroll``."""
    log_probs = F.log_softmax(logits.float(), dim=-1)
    cross_entropy = -(log_probs * targets).sum(-1)  # (B, 4, T)
    scored = (~known) & (pianoroll.sum(-1) > 0)
    count = scored.flatten(1).sum(1).clamp(min=1)
    return (cross_entropy * scored).flatten(1).sum(1) / count


def forward(
    model: torch.nn.Module, pianoroll: torch.Tensor, known: torch.Tensor, channels_last: bool = False
) -> torch.Tensor:
    x = make_input(pianoroll, known)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return model(x)


@torch.no_grad()
def evaluate_loss(model: Coconet, pianoroll: torch.Tensor, known: torch.Tensor, batch: int = 64) -> float:
    """Mean masked NLL per note over a fixed set (the training objective), in eval mode."""
    was_training = model.training
    model.eval()
    losses = [
        masked_nll(
            model(make_input(pianoroll[i : i + batch], known[i : i + batch])),
            pianoroll[i : i + batch],
            known[i : i + batch],
        )
        for i in range(0, len(pianoroll), batch)
    ]
    model.train(was_training)
    return float(torch.cat(losses).mean())


def step_loss(
    logits: torch.Tensor,
    pianoroll: torch.Tensor,
    known: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    teacher_weight: float = 0.0,
) -> torch.Tensor:
    """The batch's training loss: the mean of :func:`masked_nll`, or with a teacher's logits
    its weighted sum with the cross-entropy from the teacher's distributions."""
    loss = masked_nll(logits, pianoroll, known)
    if teacher_logits is not None:
        taught = F.softmax(teacher_logits.float(), dim=-1)
        soft = masked_cross_entropy(logits, taught, pianoroll, known)
        loss = (1 - teacher_weight) * loss + teacher_weight * soft
    return loss.mean()
