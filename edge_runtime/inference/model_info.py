"""What a siamese-edge ONNX model says about itself, read from its metadata.

The export stage writes these keys (all values are strings; lists and numbers as JSON):

| key | meaning |
| --- | --- |
| `siamese_edge.format_version` | version of this metadata layout (1) |
| `input` | InputSpec as JSON: height, width, channels, color_order, mean, std, layout, resize |
| `embedding_size`, `metric` | embedding length; the score to match with (`cosine`) |
| `threshold`, `target_far` | calibrated "unknown" threshold and the FAR it was set for |
| `model_hash` | SHA-256 (hex, 16 chars) of the exported graph: keys engine caches and galleries |
| `precision` | fp32, fp16 or int8 |
| `arch` | backbone name |
| `dataset_name`, `dataset_classes` | what the model was trained on, how many classes |
| `package_version` | the siamese-edge version that exported it |
| `kind` | identity, face or signature: what the runtime cuts out and how it words verdicts (absent: identity) |
| `notes` | free text: training data, recipe, licence, measured accuracy (absent: empty) |
| `flip_average` | `true` when the graph embeds each image and its mirror image and averages them |
| `family_hash` | the hash all variants of one export share (the FP32 graph's): keys galleries, edge-bench families |
| `quantization` | INT8: `u8s8` (unsigned asymmetric activations: CPUs) or `s8s8` (signed, zero points 0: TensorRT) |
| `tensorrt_variant` | U8S8 models: the file name of the S8S8 sibling the TensorRT provider receives instead |
| `training_classes` | JSON list of the classes it was trained on (edge-bench refuses them as held-out classes) |
| `far_table` | JSON rows {far, threshold, tar, impostor_pairs, genuine_pairs}: `identity.thresholds` |
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from edge_runtime.core.errors import ForeignModelError, ModelError
from edge_runtime.imaging.preprocessing import InputSpec

METADATA_FORMAT_VERSION = 1
FORMAT_KEY = "siamese_edge.format_version"
KINDS = ("identity", "face", "signature")


@dataclass(frozen=True)
class ModelInfo:
    """The model's own description: preprocessing, embedding, threshold and identity."""

    spec: InputSpec
    embedding_size: int
    metric: str
    threshold: float | None
    target_far: float | None
    model_hash: str
    precision: str
    arch: str
    dataset_name: str
    dataset_classes: int
    package_version: str
    kind: str = "identity"
    notes: str = ""
    flip_average: bool = False
    family_hash: str = ""
    quantization: str = ""
    tensorrt_variant: str = ""
    training_classes: tuple[str, ...] = ()
    far_table: tuple[dict, ...] = ()

    @property
    def family(self) -> str:
        """The hash shared by every variant of one export (older models: their own hash)."""
        return self.family_hash or self.model_hash

    def to_metadata(self) -> dict[str, str]:
        """The metadata entries to write into the ONNX model."""
        return {
            FORMAT_KEY: str(METADATA_FORMAT_VERSION),
            "input": json.dumps(self.spec.to_dict()),
            "embedding_size": str(self.embedding_size),
            "metric": self.metric,
            "threshold": json.dumps(self.threshold),
            "target_far": json.dumps(self.target_far),
            "model_hash": self.model_hash,
            "precision": self.precision,
            "arch": self.arch,
            "dataset_name": self.dataset_name,
            "dataset_classes": str(self.dataset_classes),
            "package_version": self.package_version,
            "kind": self.kind,
            "notes": self.notes,
            "flip_average": json.dumps(self.flip_average),
            "family_hash": self.family,
            **({"quantization": self.quantization} if self.quantization else {}),
            **({"tensorrt_variant": self.tensorrt_variant} if self.tensorrt_variant else {}),
            **({"training_classes": json.dumps(list(self.training_classes))} if self.training_classes else {}),
            **({"far_table": json.dumps(list(self.far_table))} if self.far_table else {}),
        }

    @classmethod
    def from_model(cls, model, source: str = "the model") -> ModelInfo:
        """What a loaded model says about itself: `model` is an onnx ModelProto (export) or an
        onnxruntime InferenceSession (runtime); see `from_metadata`."""
        return cls.from_metadata(metadata_of(model), source)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "the model") -> ModelInfo:
        """Parse the metadata of a siamese-edge model, or raise ModelError saying what is wrong."""
        version = metadata.get(FORMAT_KEY)
        if version is None:
            raise ForeignModelError(
                f"{source} is not a siamese-edge model (no {FORMAT_KEY} metadata); export it with export-onnx"
            )
        if version != str(METADATA_FORMAT_VERSION):
            raise ModelError(
                f"{source} has metadata version {version}, this siamese-edge reads version {METADATA_FORMAT_VERSION}; "
                "re-export it with this version's export-onnx"
            )
        try:
            info = cls(
                spec=InputSpec.from_dict(json.loads(metadata["input"])),
                embedding_size=int(metadata["embedding_size"]),
                metric=metadata["metric"],
                threshold=json.loads(metadata["threshold"]),
                target_far=json.loads(metadata["target_far"]),
                model_hash=metadata["model_hash"],
                precision=metadata["precision"],
                arch=metadata["arch"],
                dataset_name=metadata["dataset_name"],
                dataset_classes=int(metadata["dataset_classes"]),
                package_version=metadata["package_version"],
                kind=metadata.get("kind", "identity"),
                notes=metadata.get("notes", ""),
                flip_average=json.loads(metadata.get("flip_average", "false")) is True,
                family_hash=metadata.get("family_hash", ""),
                quantization=metadata.get("quantization", ""),
                tensorrt_variant=metadata.get("tensorrt_variant", ""),
                training_classes=tuple(json.loads(metadata.get("training_classes", "[]"))),
                far_table=tuple(json.loads(metadata.get("far_table", "[]"))),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise ModelError(f"{source} has incomplete siamese-edge metadata ({error}); re-export it") from None
        if info.kind not in KINDS:
            raise ModelError(f"{source} is of kind {info.kind!r}; this siamese-edge knows {', '.join(KINDS)}")
        return info


def metadata_of(model) -> dict[str, str]:
    """The metadata entries of an onnx ModelProto (its `metadata_props`) or of an onnxruntime session
    (its `custom_metadata_map`), told apart by their attributes: the runtime never imports `onnx`."""
    if hasattr(model, "metadata_props"):
        return {entry.key: entry.value for entry in model.metadata_props}
    return dict(model.get_modelmeta().custom_metadata_map)
