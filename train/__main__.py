"""`python -m train`: the same as `siamese-train`."""

from train.entry import main

main()
