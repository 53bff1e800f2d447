"""dlib's face network and landmark model: file format, network in PyTorch, weights, conversion."""
