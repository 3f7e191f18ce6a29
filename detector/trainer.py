"""The YOLOX training loop: data, model, SGD + warm-cosine schedule, EMA, AMP, checkpoints,
periodic COCO evaluation, metrics log; single process or torchrun (DistributedDataParallel)."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import cv2
import torch
import torch.nn.functional as F
from tqdm import tqdm

from data.coco import CocoDataset
from data.config import save_config
from detector.assign import CANDIDATE_RULES
from detector.backends.base import ModelMetadata
from detector.checkpoint import METADATA_KEY
from detector.distributed import convert_sync_batchnorm, global_loss_factor
from detector.ema import ModelEMA, unwrap
from detector.grid import check_input_hw
from detector.losses import IOU_TYPES, YOLOXLoss
from detector.schedule import WarmCosSchedule
from detector.train_config import TrainConfig
from detector.train_data import ImageSource, YOLOXTrainDataset, iters_per_epoch, make_loader, random_input_size
from detector.trainer_utils import (MetricsLog, build_optimizer, build_train_model, load_init_weights,
                                    plot_loss_curve, save_file, slim_checkpoint, state_for_save)


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (else bf16 autocast would be emulated and slower)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Trainer:
    def __init__(self, cfg: TrainConfig, out_dir: str | Path, *, resume: str | Path | None = None) -> None:
        check_input_hw(cfg.input_size)
        if cfg.iou_type not in IOU_TYPES:
            raise ValueError(f"iou_type: {cfg.iou_type!r} is not one of {', '.join(IOU_TYPES)}")
        if cfg.candidate_rule not in CANDIDATE_RULES:
            raise ValueError(f"candidate_rule: {cfg.candidate_rule!r} is not one of {', '.join(CANDIDATE_RULES)}")
        self.cfg = cfg
        self.out = Path(out_dir)
        self.resume_path = Path(resume) if resume else None
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.device = self._device()
        self.init_report: dict[str, list[str]] | None = None
        self._owns_process_group = False

    # ----------------------------------------------------------------- setup
    def _device(self) -> torch.device:
        want = self.cfg.device
        if want == "auto":
            want = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        return torch.device(want)

    def _setup(self) -> None:
        cfg = self.cfg
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        # OpenCV's thread pool does not survive fork(): a pool started here (image caching)
        # deadlocks forked dataloader workers. Workers parallelise by process instead.
        cv2.setNumThreads(1 if cfg.num_workers > 0 else 0)
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self._owns_process_group = True
        torch.manual_seed(cfg.seed)
        self.dataset, self.classes, self.val_set = self._build_data()
        num_classes = cfg.num_classes or len(self.classes)
        if num_classes != len(self.classes):
            raise ValueError(f"{cfg.train_ann}: has {len(self.classes)} classes but num_classes={num_classes}")
        self.iters_per_epoch = iters_per_epoch(len(self.dataset), cfg.batch_size, self.world)
        if cfg.max_iters_per_epoch:
            self.iters_per_epoch = min(self.iters_per_epoch, cfg.max_iters_per_epoch)

        model = self._build_model(num_classes)
        if cfg.init_weights and self.resume_path is None:
            self.init_report = load_init_weights(model, cfg.init_weights)
        self.use_cpu_bf16 = cfg.cpu_bf16 and self.device.type == "cpu" and cpu_has_bf16()
        self.frozen = self._frozen_modules(model)
        for module in self.frozen:
            module.requires_grad_(False)
        model.to(self.device, torch.float64 if cfg.float64 else torch.float32)
        self._train_mode(model)
        if self.use_cpu_bf16:
            model.to(memory_format=torch.channels_last)
        self.model = model
        lr = cfg.lr_per_image * cfg.batch_size * self.world
        self.optimizer = build_optimizer(model, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self.schedule = WarmCosSchedule(lr=lr, iters_per_epoch=self.iters_per_epoch, total_epochs=cfg.epochs,
                                        warmup_epochs=cfg.warmup_epochs, no_aug_epochs=cfg.no_aug_epochs,
                                        warmup_lr_start=cfg.warmup_lr_start, min_lr_ratio=cfg.min_lr_ratio)
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.ema = ModelEMA(model, decay=cfg.ema_decay) if cfg.ema else None
        self.loss_fn = YOLOXLoss(num_classes=num_classes, iou_weight=cfg.iou_weight, iou_type=cfg.iou_type,
                                 center_radius=cfg.center_radius, candidate_rule=cfg.candidate_rule)
        self.start_epoch, self.start_iter, self.best_ap = 0, 0, 0.0
        if self.resume_path is not None:
            self._load_resume(self.resume_path)
        self.train_model: torch.nn.Module = model
        if self.world > 1:
            if cfg.sync_bn:
                model = convert_sync_batchnorm(model, self.device)
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                                         broadcast_buffers=False)

    # Hooks a trainer of another model family overrides (detector.stream_train).
    def _build_data(self) -> tuple[Any, tuple[str, ...], CocoDataset | None]:
        """(training dataset yielding (images, targets), class names, validation set or None)."""
        cfg = self.cfg
        train_set = CocoDataset(cfg.train_ann, cfg.train_images)
        val_set = CocoDataset(cfg.val_ann, cfg.val_images or cfg.train_images) if cfg.val_ann else None
        source = ImageSource(train_set, cfg.input_size, cache=cfg.cache_images)
        return YOLOXTrainDataset(source, cfg.aug, seed=cfg.seed), tuple(train_set.classes), val_set

    def _build_model(self, num_classes: int) -> torch.nn.Module:
        return build_train_model(self.cfg, num_classes)

    def _frozen_modules(self, model: torch.nn.Module) -> list[torch.nn.Module]:
        """Submodules kept at their initial weights: no gradients, BatchNorm statistics fixed."""
        return []

    def _train_mode(self, model: torch.nn.Module) -> None:
        model.train()
        # A frozen module's BatchNorm must not drift with the batches it sees either.
        for module in self.frozen:
            module.eval()

    def _metadata(self) -> ModelMetadata:
        return ModelMetadata(model_name=self.cfg.model, classes=self.classes, input_size=tuple(self.cfg.input_size),
                             legacy=False)

    # ----------------------------------------------------------- checkpoints
    def checkpoint(self, *, epoch: int, iteration: int, curr_ap: float) -> dict[str, Any]:
        """Official layout ("model" holds the EMA weights) plus what an exact resume needs."""
        ema_model = self.ema.ema if self.ema else unwrap(self.model)
        return {
            "model": state_for_save(ema_model.state_dict(), self.cfg.save_fp16),
            "optimizer": self.optimizer.state_dict(),
            "start_epoch": epoch,
            "start_iter": iteration,
            "best_ap": self.best_ap,
            "curr_ap": curr_ap,
            "ema": {"updates": self.ema.updates if self.ema else 0},
            "train_model": state_for_save(unwrap(self.model).state_dict(), False),
            "scaler": self.scaler.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            METADATA_KEY: self._metadata().to_strings(),
        }

    def _load_resume(self, path: Path) -> None:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        missing = [k for k in ("train_model", "optimizer", "start_epoch") if k not in ckpt]
        if missing:
            raise ValueError(f"{path}: not a resumable training checkpoint (missing {', '.join(missing)})")
        self.model.load_state_dict(ckpt["train_model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict({"model": {k: v.float() if v.is_floating_point() else v
                                                for k, v in ckpt["model"].items()},
                                      "updates": ckpt["ema"]["updates"]})
        if "scaler" in ckpt and ckpt["scaler"]:
            self.scaler.load_state_dict(ckpt["scaler"])
        if "rng" in ckpt:
            torch.set_rng_state(ckpt["rng"]["torch"])
        self.start_epoch, self.start_iter = int(ckpt["start_epoch"]), int(ckpt.get("start_iter", 0))
        self.best_ap = float(ckpt.get("best_ap", 0.0))

    def _save(self, name: str, **kw: Any) -> None:
        if self.rank == 0:
            save_file(self.checkpoint(**kw), self.out / name)

    # ------------------------------------------------------------- training
    def run(self) -> dict[str, Any]:
        threads = torch.get_num_threads()
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)  # process-wide: do not leak the run's setting to the caller
            if self._owns_process_group:
                torch.distributed.destroy_process_group()
                self._owns_process_group = False

    def _run(self) -> dict[str, Any]:
        self._setup()
        cfg = self.cfg
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out / "config.yaml")
        # A resumed run re-runs the steps after its checkpoint: their old rows go, so none is doubled.
        resumed_at = self.start_epoch * self.iters_per_epoch + self.start_iter if self.resume_path else None
        log = MetricsLog(self.out / "metrics.jsonl", resumed_at_iter=resumed_at) if self.rank == 0 else None
        if log is not None and self.init_report is not None:
            log.write({"init_weights": cfg.init_weights, "mismatched": self.init_report["mismatched"],
                       "missing": self.init_report["missing"], "unexpected": self.init_report["unexpected"]}, 0)
            if self.init_report["mismatched"] or self.init_report["missing"]:
                print(f"init_weights: re-initialised {self.init_report['mismatched'] + self.init_report['missing']}")
        t_start = time.time()
        result: dict[str, Any] = {"stopped_early": False}
        for epoch in range(self.start_epoch, cfg.epochs):
            stopped = self._train_epoch(epoch, log)
            if stopped:
                result["stopped_early"] = True
                break
        if log is not None:
            log.close()
            plot_loss_curve(self.out / "metrics.jsonl", self.out / "loss_curve.png")
            if (self.out / "best_ckpt.pth").is_file():
                slim_checkpoint(self.out / "best_ckpt.pth", self.out / "best_weights.pth", fp16=cfg.save_fp16)
        result.update(best_ap=self.best_ap, train_seconds=time.time() - t_start, out=str(self.out))
        return result

    def _train_epoch(self, epoch: int, log: MetricsLog | None) -> bool:
        cfg = self.cfg
        no_aug = epoch >= cfg.epochs - cfg.no_aug_epochs
        self.dataset.enable_mosaic = not no_aug
        skip = self.start_iter if epoch == self.start_epoch else 0
        loader = make_loader(self.dataset, batch_size=cfg.batch_size, epoch=epoch, seed=cfg.seed,
                             num_workers=cfg.num_workers, skip_batches=skip, rank=self.rank, world=self.world)
        n_iter = self.iters_per_epoch
        bar = tqdm(total=n_iter, initial=skip, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=self.rank != 0,
                   dynamic_ncols=True)
        t_last, imgs_since = time.time(), 0
        it = skip
        for images, targets in loader:
            if it >= n_iter:
                break
            step = epoch * self.iters_per_epoch + it
            losses, hw = self._step(images, targets, step, use_l1=no_aug)
            it += 1
            imgs_since += images.shape[0]
            bar.update(1)
            if log is not None and (it % cfg.print_interval == 0 or it == n_iter):
                now = time.time()
                rec = {"epoch": epoch + 1, "iter": step + 1, "lr": self.optimizer.param_groups[0]["lr"],
                       **{k: float(v.detach()) for k, v in losses.items()}, "input_hw": list(hw),
                       "img_per_s": imgs_since / max(now - t_last, 1e-9), "no_aug": no_aug}
                log.write(rec, step + 1)
                t_last, imgs_since = now, 0
                bar.set_postfix(loss=f"{rec['total_loss']:.3f}", lr=f"{rec['lr']:.2e}", size=f"{hw[0]}x{hw[1]}")
            if cfg.stop_after_iters is not None and step + 1 >= cfg.stop_after_iters:
                bar.close()
                e, i = (epoch, it) if it < n_iter else (epoch + 1, 0)
                self._save("latest_ckpt.pth", epoch=e, iteration=i, curr_ap=0.0)
                return True
        bar.close()
        curr_ap = 0.0
        last = epoch + 1 == cfg.epochs
        evaluated = self.val_set is not None and self.rank == 0 and ((epoch + 1) % cfg.eval_interval == 0 or last)
        if evaluated:
            curr_ap = self._evaluate(epoch, log)
        best_missing = not (self.out / "best_ckpt.pth").exists()
        is_best = (evaluated and (curr_ap > self.best_ap or best_missing)) or (self.val_set is None and last)
        # The best AP is updated before latest_ckpt is written: a run resumed from it must know the
        # best so far, or its next (worse) epoch would replace best_ckpt.
        self.best_ap = max(self.best_ap, curr_ap)
        self._save("latest_ckpt.pth", epoch=epoch + 1, iteration=0, curr_ap=curr_ap)
        if is_best:
            self._save("best_ckpt.pth", epoch=epoch + 1, iteration=0, curr_ap=curr_ap)
        if log is not None:
            plot_loss_curve(self.out / "metrics.jsonl", self.out / "loss_curve.png")
        return False

    def _step(self, images: torch.Tensor, targets: torch.Tensor, step: int, *, use_l1: bool
              ) -> tuple[dict[str, torch.Tensor], tuple[int, int]]:
        cfg = self.cfg
        lr = self.schedule(step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        images = images.to(self.device, torch.float64 if cfg.float64 else torch.float32, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        train_hw = cfg.aug.crop_size or cfg.input_size
        hw = random_input_size(train_hw, step // cfg.multiscale_interval, seed=cfg.seed,
                               multiscale_range=cfg.multiscale_range)
        base = images.shape[-2:]
        if tuple(hw) != tuple(base):
            images = F.interpolate(images, size=hw, mode="bilinear", align_corners=False)
            scale = torch.tensor([hw[1] / base[1], hw[0] / base[0], hw[1] / base[1], hw[0] / base[0]],
                                 device=targets.device)
            # columns after the box (StreamYOLO's loss weights) are not coordinates
            targets = torch.cat([targets[..., :1], targets[..., 1:5] * scale, targets[..., 5:]], dim=-1)
        if self.use_cpu_bf16:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16 if self.use_cpu_bf16 else None,
                            enabled=self.use_amp or self.use_cpu_bf16):
            raw = self.train_model(images)
        if not cfg.float64:
            raw = raw.float()  # assignment and losses in float32 whatever the network ran in
        losses = self.loss_fn(raw, targets, tuple(hw), use_l1=use_l1)
        if self.world > 1:
            # Normalised by the global foreground count, as one process with the whole batch would be.
            factor = global_loss_factor(losses["num_fg"], self.world).to(raw.device)
            losses = {k: v if k == "num_fg" else v * factor for k, v in losses.items()}
        loss = losses["total_loss"]
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss became {loss.item()} at iteration {step}; lower the lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        return losses, tuple(hw)

    def _evaluate(self, epoch: int, log: MetricsLog | None) -> float:
        """Val COCO AP in percent (the best-checkpoint key; an undefined AP, e.g. a val split
        without boxes, counts as 0). metrics.jsonl keeps the lowercase keys plot_loss_curve
        reads (ap, ap50, ...), now in percent like every AP in the project; undefined is null."""
        from data.coco_eval import format_value
        from detector.evaluate import evaluate_model

        model = self.ema.ema if self.ema else unwrap(self.model)
        metrics = evaluate_model(model, self.val_set, input_hw=self.cfg.input_size, conf_thresh=self.cfg.eval_conf,
                                 nms_thresh=self.cfg.eval_nms, batch_size=self.cfg.eval_batch_size,
                                 max_images=self.cfg.max_val_images, device=self.device)
        self._train_mode(unwrap(self.model))
        record = {k.lower(): v for k, v in metrics.to_dict().items() if k != "per_class"}
        if log is not None:
            log.write({"epoch": epoch + 1, "iter": (epoch + 1) * self.iters_per_epoch, **record},
                      (epoch + 1) * self.iters_per_epoch)
        print(f"epoch {epoch + 1}: val AP {format_value(metrics.AP, 2)} AP50 {format_value(metrics.AP50, 2)}")
        return float(metrics.AP or 0.0)
