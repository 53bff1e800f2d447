"""The training stage of siamese-edge (PyTorch): datasets, samplers, losses, backbones, trainer."""
