"""Models run: ONNX Runtime, execution providers, INT8 variants, model metadata and the Embedder."""
