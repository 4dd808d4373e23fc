import pytest
import torch

from counterpoint.data import masks
from counterpoint.errors import ConfigError


def test_orderless_erases_between_one_and_all_notes():
    known = masks.orderless(200, 16, torch.Generator().manual_seed(0))
    erased = (~known).flatten(1).sum(1)
    assert known.shape == (200, 4, 16)
    assert erased.min() >= 1 and erased.max() <= 64
    assert erased.float().std() > 10  # sizes spread over the range, not one fixed size


def test_frame_masks_erase_whole_steps_but_one_partial_step():
    steps = 16
    known = masks.frames(300, steps, torch.Generator().manual_seed(1))
    voices_known = known.sum(1)  # (B, T): how many voices are known at each step
    partial = (voices_known > 0) & (voices_known < 4)
    # at most one step per example is partly known, and every example erases something
    assert partial.sum(1).max() == 1
    assert (~known).flatten(1).any(1).all()
    # the partial step has 1..3 voices back; often none are back (a whole frame unknown)
    assert ((voices_known == 0).sum(1) >= 1).float().mean() > 0.2
    erased_steps = (voices_known < 4).sum(1)
    assert erased_steps.min() == 1 and erased_steps.max() == steps


def test_late_frame_masks_erase_fewer_whole_steps_than_frame_masks():
    steps = 32
    late = masks.late_frames(2000, steps, torch.Generator().manual_seed(4))
    plain = masks.frames(2000, steps, torch.Generator().manual_seed(4))
    voices_known = late.sum(1)
    assert (((voices_known > 0) & (voices_known < 4)).sum(1) <= 1).all()
    erased_late = (voices_known < 4).sum(1).float() / steps
    erased_plain = (plain.sum(1) < 4).sum(1).float() / steps
    assert erased_late.min() > 0 and erased_late.max() <= 1
    # u² has mean 1/3 (a uniform fraction: 1/2), plus half a step from rounding up
    assert 0.32 < erased_late.mean() < 0.40 and 0.47 < erased_plain.mean() < 0.56


def test_continuation_masks_erase_a_future_with_its_first_step_partly_known():
    steps = 16
    known = masks.continuation(300, steps, torch.Generator().manual_seed(3))
    voices_known = known.sum(1)  # (B, T)
    erased = voices_known < 4
    first = erased.float().argmax(1)
    after_first = torch.arange(steps).unsqueeze(0) > first.unsqueeze(1)
    # everything after the first erased step is erased in all four voices, nothing before it
    assert (voices_known[after_first] == 0).all()
    assert erased.sum(1).eq(steps - first).all()
    lengths = erased.sum(1)
    assert lengths.min() == 1 and lengths.max() == steps
    # the first erased step sometimes keeps some voices, sometimes none
    kept = voices_known[torch.arange(300), first]
    assert (kept == 0).any() and (kept > 0).any() and (kept < 4).all()


def test_mixtures_split_the_batch_between_families():
    known = masks.family("orderless+frames")(9, 32, torch.Generator().manual_seed(2))
    assert known.shape == (9, 4, 32)
    voices_known = known.sum(1)
    partial_steps = ((voices_known > 0) & (voices_known < 4)).sum(1)
    assert (partial_steps[5:] <= 1).all()  # the second half: frame masks
    assert partial_steps[:5].sum() > 5  # the first half: note-wise, partial steps everywhere


@pytest.mark.parametrize("name", ["", "frame", "orderless+", "orderless+nope"])
def test_unknown_families_are_named(name):
    with pytest.raises(ConfigError, match="unknown mask family"):
        masks.family(name)
