"""``counterpoint evaluate``: likelihood (the paper's protocol, exact) and musical quality, in
one report."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from counterpoint.cli.options import Checkpoint, Seed, sampling_options, user_errors

if TYPE_CHECKING:  # torch is imported only when a command runs
    from counterpoint.sampling.config import SamplerConfig


@user_errors
@sampling_options
def evaluate(
    data: Annotated[str, typer.Option("--data", help="JSB .npz/.json path, or 'music21'")],
    checkpoint: Checkpoint = None,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    max_pieces: Annotated[
        int | None, typer.Option("--max-pieces", help="evaluate the first N pieces only")
    ] = None,
    orderings: Annotated[int, typer.Option(help="random orderings for the likelihood ensemble")] = 5,
    harmonize_pieces: Annotated[
        int | None,
        typer.Option("--harmonize-pieces", help="sopranos to harmonize (default: as --max-pieces)"),
    ] = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    skip_likelihood: Annotated[bool, typer.Option("--skip-likelihood", help="only musical quality")] = False,
    skip_quality: Annotated[bool, typer.Option("--skip-quality", help="only likelihood")] = False,
    workers: Annotated[
        int, typer.Option(min=0, help="processes sharing the likelihood's pieces (0: one per CPU core)")
    ] = 0,
    device: Annotated[
        str, typer.Option(help="cpu, or cuda to score the likelihood on a GPU (harmonizing stays on the CPU)")
    ] = "cpu",
    cache: Annotated[
        Path | None,
        typer.Option(
            help="keep each piece's likelihood scores and harmonizations in this folder: run "
            "again with it to resume a stopped evaluation, or to extend one to more pieces"
        ),
    ] = None,
    report: Annotated[Path, typer.Option("--report", "-o", help="Markdown report; JSON beside it")] = Path(
        "evaluation.md"
    ),
) -> None:
    """Likelihood (the paper's protocol, exact) and musical quality, in one report."""
    import time

    from counterpoint import evaluation
    from counterpoint.data.datasets import load_dataset
    from counterpoint.io.files import write_atomically
    from counterpoint.model.registry import DEFAULT, load_model

    model = load_model(checkpoint)
    dataset = load_dataset(data)
    pieces = dataset.split(split)[: max_pieces or None]
    results: dict = {
        "checkpoint": checkpoint or DEFAULT,
        "data": data,
        "split": split,
        "timing": {},
    }
    if not skip_likelihood:
        start = time.perf_counter()
        scorer = evaluation.on_device(model, device)
        results["likelihood"] = evaluation.likelihood(
            scorer,
            pieces,
            orderings=orderings,
            seed=seed,
            workers=workers or os.cpu_count() or 1,
            cache=cache,
        )
        results["masked_loss"] = evaluation.masked_loss(scorer, pieces, seed=seed)
        results["masked_loss_frames"] = evaluation.masked_loss(scorer, pieces, seed=seed, mask="frames")
        results["device"] = device
        results["timing"]["likelihood"] = time.perf_counter() - start
    if not skip_quality:
        start = time.perf_counter()
        count = harmonize_pieces if harmonize_pieces is not None else len(pieces)
        chosen = dataset.split(split)[:count]
        # with the parallel-avoiding sampler, also the network alone: what the model learned
        variants = {"model (harmonizing Bach's sopranos)": config.avoid_parallels}
        if config.avoid_parallels:
            variants["network alone (--allow-parallels)"] = False
        harmonized = {
            name: evaluation.harmonize_sopranos(
                model, chosen, dataclasses.replace(config, avoid_parallels=avoid), seed=seed, cache=cache
            )
            for name, avoid in variants.items()
        }
        results["harmonization_accuracy"] = {name: h.accuracy for name, h in harmonized.items()}
        results["sampler_precision"] = config.resolve_precision(model)
        results["quality"] = evaluation.quality_table(
            {**{name: h.pieces for name, h in harmonized.items()}, "Bach": chosen}, chosen
        )
        results["timing"]["quality"] = time.perf_counter() - start
    markdown = evaluation.markdown_report(results)
    write_atomically(report, lambda temporary: temporary.write_text(markdown))
    json_path = report.with_suffix(".json")
    write_atomically(json_path, lambda temporary: temporary.write_text(evaluation.to_json(results)))
    typer.echo(markdown)
    typer.echo(f"wrote {report} and {json_path}")
