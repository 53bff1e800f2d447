"""`siamese-train`: train an embedding network on a folder of classes and evaluate it on unseen ones."""

from __future__ import annotations

import click

from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.imaging.preprocessing import RESIZE_MODES
from edge_runtime.inference.model_info import KINDS
from train.backbones import BACKBONES
from train.config import TrainConfig
from train.datasets import LAYOUTS
from train.distances import DISTANCES
from train.losses import LOSSES
from train.miners import MINERS


def _split(value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("give three numbers, e.g. 0.7,0.1,0.2 or 24,6,10") from None
    if len(parts) != 3:
        raise click.BadParameter("give three numbers: train,val,test")
    return parts


def _size(value: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in value.lower().split("x")]
    except ValueError:
        raise click.BadParameter("give a size like 105 or 112x96 (height x width)") from None
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


@click.command(context_settings=CONTEXT)
@click.option(
    "--data", type=click.Path(file_okay=False), help="Dataset root: root/<class>/* or root/<alphabet>/<character>/*."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for checkpoints, logs and the report.",
)
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto")
@click.option("--group-separator", default="", help="Class folders sharing the name before it are one group.")
@click.option("--resize", type=click.Choice(RESIZE_MODES), default="stretch", help="ink: crop to the strokes, pad.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="identity",
    help="What the model recognises; the runtime's defaults follow it (face: detect and align faces).",
)
@click.option("--split", default="0.7,0.1,0.2", help="train,val,test share of the groups (fractions or counts).")
@click.option("--split-seed", type=int, default=0, help="Seed of the class split.")
@click.option("--input-size", default="64", help="Network input, e.g. 105 or 112x96 (height x width).")
@click.option("--channels", type=click.Choice(["auto", "1", "3"]), default="auto", help="Grayscale or colour input.")
@click.option("--backbone", type=click.Choice(list(BACKBONES)), default="edge")
@click.option("--embedding-size", type=int, default=0, help="Embedding length (0: the backbone's default).")
@click.option("--loss", type=click.Choice(LOSSES), default="triplet")
@click.option("--mining", type=click.Choice(list(MINERS)), default="batch-hard", help="Triplet mining.")
@click.option("--metric", type=click.Choice(list(DISTANCES)), default="cosine", help="Distance of the loss.")
@click.option("--margin", type=float, default=0.0, help="Loss margin (0: 0.2 triplet and cosface, 0.5 contrastive).")
@click.option("--classes-per-batch", "-P", type=int, default=32, help="P of P×K triplet batches.")
@click.option("--images-per-class", "-K", type=int, default=4, help="K of P×K triplet batches.")
@click.option("--pairs-per-batch", type=int, default=64, help="Pairs per batch for pair losses.")
@click.option("--steps-per-epoch", type=int, default=0, help="Batches per epoch (0: one pass over the images).")
@click.option("--epochs", type=click.IntRange(min=1), default=20)
@click.option("--lr", type=float, default=1e-3)
@click.option("--weight-decay", type=float, default=5e-4)
@click.option("--augment/--no-augment", default=True, help="Koch et al.'s random affine distortions.")
@click.option("--flip", is_flag=True, help="Also mirror half the training images left to right (faces).")
@click.option("--photometric", is_flag=True, help="Also vary brightness and contrast, and drop colour at times.")
@click.option("--rotate-classes", is_flag=True, help="Add 90/180/270° rotations of training classes as new classes.")
@click.option("--seed", type=int, default=0)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--amp/--no-amp", default=True, help="Mixed precision on CUDA.")
@click.option("--way", type=int, default=20, help="N of the N-way evaluation episodes.")
@click.option("--shot", type=int, default=1, help="K of the K-shot evaluation episodes.")
@click.option("--same-group", is_flag=True, help="Draw each episode's classes from one group (within-alphabet).")
@click.option("--episodes", type=int, default=1000, help="Test episodes.")
@click.option("--val-episodes", type=int, default=300, help="Validation episodes per epoch.")
@click.option(
    "--target-far", type=float, default=1e-3, help="False accept rate the unknown threshold is calibrated for."
)
@click.option(
    "--patience", type=int, default=0, help="Stop after this many epochs without a better validation score (0: never)."
)
@click.option("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default).")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help="Prepare the next batches (augmentation, the teacher's view) in this many processes while the network "
    "trains: for a GPU, which the augmentation on one core leaves idle. Same batches, same result. 0: in turn.",
)
@click.option(
    "--resume",
    type=click.Path(dir_okay=False),
    help="Continue from OUT/last.pt (its settings win but --data, --device, --threads, --workers).",
)
@click.option(
    "--init-weights", type=click.Path(dir_okay=False), help="Start from these weights (checkpoint or state_dict)."
)
@click.option(
    "--teacher",
    default="",
    help="Distil this model (a checkpoint, or an ONNX model exported with its metadata) into the student.",
)
@click.option(
    "--teacher-data",
    default="",
    help="With --teacher: a folder holding the same files as --data, cut as the teacher wants them (say, the same "
    "photos aligned onto the teacher's face template); the teacher sees these, the student --data's.",
)
@click.option(
    "--distill-weight",
    type=float,
    default=1.0,
    help="With --teacher: w of w·distillation + (1−w)·the identity loss (1: distillation alone, no labels used).",
)
@click.option(
    "--relation-weight",
    type=float,
    default=1.0,
    help="With --teacher: λ, the weight of matching the batch's pairwise similarities (see README).",
)
@click.option(
    "--mixup",
    type=float,
    default=0.0,
    help="With --teacher and --distill-weight 1: blend each augmented image with another of the batch, "
    "λ ~ Beta(α, α), and match the teacher on the blend (function matching; see README). 0: off.",
)
@click.option(
    "--student-turn",
    type=float,
    default=0.0,
    help="With --teacher: after the shared distortion, turn each image of the student's view alone by up to this "
    "many degrees, so the student learns to embed a tilted cut as the teacher embeds the upright one. 0: off.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@one_line_errors(also=(ValueError,), interrupted="interrupted; the last finished epoch is in last.pt (use --resume)")
def main(out_dir, resume, init_weights, quiet, input_size, channels, **options) -> None:
    """Train a Siamese embedding network and evaluate it on classes it never saw."""
    if not options["data"] and not resume:
        raise click.UsageError("give --data (or --resume)")
    height, width = _size(input_size)
    options["split"] = _split(options["split"])
    config = TrainConfig(height=height, width=width, channels=0 if channels == "auto" else int(channels), **options)
    from train.trainer import Trainer

    result = Trainer(config, out_dir, resume=resume, init_weights=init_weights, show_progress=not quiet).run()
    if result is not None:
        _print_summary(result)


def _print_summary(result) -> None:
    report = result.report
    click.echo(f"best checkpoint: {result.best_checkpoint} (epoch {report['best_epoch']})")
    click.echo(f"unknown threshold: cosine >= {report['threshold']:.4f} (calibrated for FAR {report['target_far']:g})")
    for part in ("validation", "test"):
        metrics = report[part]
        if metrics is None:
            continue
        grouping = ", within-group" if metrics["same_group"] else ""
        click.echo(
            f"{part}: {metrics['way']}-way {metrics['shot']}-shot accuracy "
            f"{100 * metrics['few_shot_accuracy']:.2f}% ± {100 * metrics['few_shot_ci95']:.2f} "
            f"({metrics['episodes']} episodes{grouping}), ROC AUC {metrics['roc_auc']:.4f}, "
            f"EER {100 * metrics['eer']:.2f}%, TAR@FAR1e-3 {100 * metrics['tar_at_far_0.001']:.2f}%, "
            f"unknown rejection {100 * metrics['unknown_rejection_rate']:.2f}%, "
            f"known identification {100 * metrics['known_identification_rate']:.2f}%"
        )


if __name__ == "__main__":
    main()
