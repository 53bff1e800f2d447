"""How closely a distilled student follows its teacher on the people it was trained on and on its
validation people: is it short of capacity (it misses the teacher on its own training faces too)
or of data (it follows there and not on new people)?

    python -m benchmarks.faces.fit_gap STUDENT.pt TEACHER DATA [--people 300]

DATA is the student's training folder (class folders of face crops). For up to `--people` of the
checkpoint's training people and as many of its validation people, the un-augmented faces are
embedded by both networks; printed as JSON for each part: the mean and 10th percentile of the
student-teacher cosine, and the correlation and RMS difference of the two networks' cosines
between every pair of those faces.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from edge_runtime.imaging.image_folders import ImageRecord
from edge_runtime.imaging.preprocessing import InputSpec, is_image_file
from train.backbones import model_from_checkpoint
from train.checkpoint import load_checkpoint
from train.datasets import load_images
from train.evaluation import embed_images
from train.teacher import load_teacher


def agreement(student: np.ndarray, teacher: np.ndarray) -> dict:
    """How alike two sets of L2-normalised embeddings of the same faces are."""
    cosines = (student * teacher).sum(axis=1)
    pairs = np.triu_indices(len(student), 1)
    ours, theirs = (student @ student.T)[pairs], (teacher @ teacher.T)[pairs]
    return {"faces": len(student), "cosine to the teacher (mean)": round(float(cosines.mean()), 4),
            "cosine to the teacher (10th percentile)": round(float(np.percentile(cosines, 10)), 4),
            "pair cosines: correlation": round(float(np.corrcoef(ours, theirs)[0, 1]), 4),
            "pair cosines: RMS difference": round(float(np.sqrt(((ours - theirs) ** 2).mean())), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("student", type=Path)
    parser.add_argument("teacher")
    parser.add_argument("data", type=Path)
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    device = torch.device("cpu")
    payload = load_checkpoint(args.student)
    spec = InputSpec.from_dict(payload["input"])
    model = model_from_checkpoint(payload)
    teacher = load_teacher(args.teacher, device)
    rng, report = np.random.default_rng(0), {}
    for part in ("train", "val"):
        people = sorted(payload["split"][part])
        people = [people[i] for i in sorted(rng.permutation(len(people))[: args.people])]
        records = [ImageRecord(f, name, name) for name in people
                   for f in sorted((args.data / name).iterdir()) if is_image_file(f)]  # fmt: skip
        students, teachers = (load_images(records, tuple(people), s) for s in (spec, teacher.spec))
        report[part] = agreement(embed_images(model, students.images, spec, device), teacher.embed(teachers.images))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
