"""`edge-bench`: execution providers, precisions and batch sizes compared in one run."""
