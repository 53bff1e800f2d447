"""Multi-process training under `torchrun`: one process per GPU (NCCL) or per CPU worker (gloo)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Cluster:
    """Where this process stands: its rank, the number of processes and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and evaluates (rank 0)."""
        return self.rank == 0


def start(device_name: str) -> Cluster:
    """Join the process group that `torchrun` describes in the environment, or run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # training batches keep one shape: cuDNN may time its kernels once
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Cluster(rank=rank, world_size=world_size, device=device)


def broadcast_flag(flag: bool, cluster: Cluster) -> bool:
    """Rank 0's value of `flag`, on every rank."""
    if cluster.world_size == 1:
        return flag
    tensor = torch.tensor([int(flag)], device=cluster.device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def mean_over_processes(value: float, cluster: Cluster) -> float:
    """The mean of `value` over every process (each process gets the same number)."""
    if cluster.world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=cluster.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item()) / cluster.world_size


def stop(cluster: Cluster) -> None:
    """Leave the process group."""
    if cluster.world_size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
