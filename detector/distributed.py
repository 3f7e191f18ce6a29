"""What makes W processes with batch b train exactly like one process with batch W x b.

DistributedDataParallel averages gradients, which is the large-batch gradient only when every
rank's loss is normalised the same way and sees the same BatchNorm statistics:

- the loss is divided by the *global* number of foreground anchors (all-reduced), then scaled by
  W because DDP's average divides by W again (`global_loss_factor`);
- BatchNorm normalises with the statistics of the global batch (`convert_sync_batchnorm`).
  torch.nn.SyncBatchNorm only runs on GPUs, so on CPU (gloo) the same computation is done here
  (CpuSyncBatchNorm: all-reduced sums forward, all-reduced sum(dy), sum(dy * xhat) backward).
Sharding and augmentation are already rank-independent (detector.train_data: rank r takes
order[r::W] of the epoch's permutation, every sample's RNG is seeded by (seed, epoch, index)),
so the union of the ranks' batches is the single process's batch.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _SyncBatchNormFunction(torch.autograd.Function):
    """Batch normalisation over the batch of all ranks, with BatchNorm's own backward formula
    (dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the two means all-reduced), so
    the autograd graph holds one node per layer and no collective of its own. In float32 it
    still differs from nn.BatchNorm2d by rounding (amplified through an untrained network to
    ~3e-4 relative in the gradients); in float64 the two agree to ~1e-12."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, n):  # x: (N, C, H, W); mean, invstd: (C,)
        xhat = (x - mean[None, :, None, None]) * invstd[None, :, None, None]
        ctx.save_for_backward(xhat, weight, invstd, n)
        return xhat * weight[None, :, None, None] + bias[None, :, None, None]

    @staticmethod
    def backward(ctx, dy):
        xhat, weight, invstd, n = ctx.saved_tensors
        c = dy.shape[1]
        sum_dy = dy.double().sum(dim=(0, 2, 3))
        sum_dy_xhat = (dy.double() * xhat).sum(dim=(0, 2, 3))
        both = torch.cat([sum_dy, sum_dy_xhat])
        _all_reduce(both)
        mean_dy, mean_dy_xhat = (both[:c] / n).to(dy.dtype), (both[c:] / n).to(dy.dtype)
        sum_dy, sum_dy_xhat = sum_dy.to(dy.dtype), sum_dy_xhat.to(dy.dtype)
        dx = (dy - mean_dy[None, :, None, None] - xhat * mean_dy_xhat[None, :, None, None]) \
            * (weight * invstd)[None, :, None, None]
        # parameter gradients stay local: DDP averages them over the ranks
        return dx, sum_dy_xhat, sum_dy, None, None, None


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the batch over all ranks.

    Same parameters, buffers and state_dict keys as nn.BatchNorm2d; in eval mode it is one.
    Two passes (mean, then the centred sum of squares) rather than E[x^2] - E[x]^2, so the
    variance keeps float32 precision and agrees with the single-process BatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, C, H, W)
        if not self.training:
            return super().forward(x)
        c = x.shape[1]
        with torch.no_grad():
            # float64 accumulators: float32 sums over N*H*W elements lose digits the variance needs
            x64 = x.double()
            count = torch.tensor([x.numel() / c], dtype=torch.float64, device=x.device)
            sums = torch.cat([x64.sum(dim=(0, 2, 3)), count])
            _all_reduce(sums)
            n = sums[-1]
            mean = sums[:c] / n
            sq = ((x64 - mean[None, :, None, None]) ** 2).sum(dim=(0, 2, 3))
            _all_reduce(sq)
            var = sq / n  # biased, as BatchNorm normalises
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.to(x.dtype), alpha=m)
            self.running_var.mul_(1 - m).add_((var * (n / (n - 1).clamp(min=1))).to(x.dtype), alpha=m)
            self.num_batches_tracked.add_(1)
            invstd = torch.rsqrt(var + self.eps).to(x.dtype)
        return _SyncBatchNormFunction.apply(x, self.weight, self.bias, mean.to(x.dtype), invstd, n)


def _all_reduce(x: torch.Tensor) -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(x)


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers synchronised over ranks: torch's SyncBatchNorm on GPU, CpuSyncBatchNorm on
    CPU. The new layers share the old ones' parameters and buffers, so an optimizer and an EMA
    built before the conversion still hold the right tensors."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in list(model.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = CpuSyncBatchNorm(child.num_features, eps=child.eps, momentum=child.momentum,
                                   affine=child.affine, track_running_stats=child.track_running_stats)
            new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_sync_batchnorm(child, device)
    return model


def global_loss_factor(num_fg_local: torch.Tensor, world: int) -> torch.Tensor:
    """Factor turning a loss normalised by this rank's max(num_fg, 1) into one normalised by the
    global count, times `world` (DDP averages the ranks' gradients). 1 in a single process."""
    if world == 1:
        return torch.ones((), dtype=torch.float64)
    total = num_fg_local.detach().clone().double().reshape(1)
    dist.all_reduce(total)
    return (num_fg_local.double().clamp(min=1) * world / total.clamp(min=1)).reshape(())
