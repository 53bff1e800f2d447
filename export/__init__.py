"""The export stage of siamese-edge: the embedding branch of a checkpoint to ONNX."""
