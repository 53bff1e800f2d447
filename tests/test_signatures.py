"""The bundled signature model on a signer it never saw: genuine pairs score above forged pairs."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge_runtime.apps.cli import verify
from edge_runtime.identity.verification import verify as verify_pair
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder, read_model_info

MODELS = Path(__file__).resolve().parents[1] / "edge_runtime" / "models"
SIGNER = Path(__file__).resolve().parents[1] / "data" / "demo" / "signatures"


@pytest.mark.parametrize("name", ["signatures.int8.onnx", "signatures.int8.tensorrt.onnx"])
def test_the_signature_model_was_never_trained_on_the_demo_signer(name):
    """The signers each model file records as its training classes (what edge-bench refuses as
    held-out classes): as many as its notes say, and not the demo's."""
    info = read_model_info(MODELS / name)
    assert f"signatures of {len(info.training_classes)} signers" in info.notes
    demo_signers = {folder.name.removesuffix("_forg") for folder in SIGNER.iterdir()}
    assert demo_signers == {"009"} and not demo_signers & set(info.training_classes)


def test_genuine_pairs_score_above_forged_pairs_of_an_unseen_signer():
    embedder = Embedder(MODELS / "signatures.int8.onnx", providers=("cpu",))
    assert embedder.info.spec.resize == "ink"
    genuine = embedder.embed([read_image(p) for p in sorted((SIGNER / "009").iterdir())])
    forged = embedder.embed([read_image(p) for p in sorted((SIGNER / "009_forg").iterdir())])
    same = [genuine[a] @ genuine[b] for a, b in itertools.combinations(range(len(genuine)), 2)]
    different = (genuine @ forged.T).ravel()
    assert np.mean(same) > np.mean(different) + 0.2


def test_edge_verify_says_genuine_or_forged_for_a_signature_model():
    reference = sorted((SIGNER / "009").iterdir())[0]
    forgery = sorted((SIGNER / "009_forg").iterdir())[0]
    genuine = sorted((SIGNER / "009").iterdir())[1]
    model = str(MODELS / "signatures.int8.onnx")
    forged = CliRunner().invoke(verify, ["-m", model, str(reference), str(forgery)])
    real = CliRunner().invoke(verify, ["-m", model, str(reference), str(genuine)])
    assert json.loads(forged.stdout)["verdict"] == "forged"
    assert json.loads(real.stdout)["verdict"] == "genuine"
    assert json.loads(real.stdout)["score"] > json.loads(forged.stdout)["score"]


def test_the_verification_api_words_the_verdict_by_the_model_kind():
    embedder = Embedder(MODELS / "signatures.int8.onnx", providers=("cpu",))
    assert embedder.info.kind == "signature" and "EER" in embedder.info.notes
    reference, forgery = (read_image(sorted((SIGNER / f).iterdir())[0]) for f in ("009", "009_forg"))
    verdict = verify_pair(embedder, reference, forgery)
    assert verdict.verdict == "forged" and not verdict.accepted and verdict.threshold == embedder.info.threshold
    assert verify_pair(embedder, reference, reference).verdict == "genuine"
