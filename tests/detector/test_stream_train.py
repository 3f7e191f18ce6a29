"""StreamYOLO training on a tiny generated world: samples pair the right frames, one flip covers
the whole sample, a few steps lower the loss and move the weights, and the checkpoint runs
through load_detector as a next-frame detector."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from data.argoverse import ArgoverseHD
from detector.api import load_detector
from detector.checkpoint import load_model
from detector.stream_data import StreamPairDataset, stream_samples
from detector.stream_train import StreamTrainConfig, StreamTrainer
from detector.streamyolo import StreamYOLO

HW = (64, 96)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from data.synthetic import generate_world

    root = tmp_path_factory.mktemp("stream_world")
    generate_world(root, sequences=2, frames=6, size=(192, 128), seed=1, val_fraction=0.5, progress=False)
    return root


def _config(world, **overrides) -> StreamTrainConfig:
    """A one-thread nano run on the tiny world, initialised from the bundled YOLOX-nano."""
    base = dict(model="streamyolo_nano", train_ann=str(world / "annotations" / "train.json"), train_images=str(world),
                input_size=HW, num_workers=0, threads=1, init_weights="detector/weights/yolox_demo.pth")
    return StreamTrainConfig(**{**base, **overrides})


def _frames(world) -> ArgoverseHD:
    return ArgoverseHD(world / "annotations" / "train.json", world)


def test_samples_pair_previous_current_next(world) -> None:
    frames = _frames(world)
    ids = [f.image_id for f in frames.sequences[0].frames]
    samples = [s for s in stream_samples(frames) if s.current in ids]
    assert [(s.previous, s.current, s.next) for s in samples[:2]] == [(ids[0], ids[0], ids[1]),
                                                                        (ids[0], ids[1], ids[2])]
    assert (samples[-1].current, samples[-1].next) == (ids[-1], ids[-1])


def test_one_flip_for_the_whole_sample(world) -> None:
    frames = _frames(world)
    plain = StreamPairDataset(frames, HW, flip_prob=0.0)
    flipped = StreamPairDataset(frames, HW, flip_prob=1.0)
    idx = 2
    img, targets = plain[idx]
    img_f, targets_f = flipped[idx]
    assert img.shape == (6, *HW) and img.dtype == torch.uint8
    assert torch.equal(img_f, img.flip(-1))  # current and previous frames both mirrored
    assert not torch.equal(img[:3], img[3:])  # two different frames
    n = int((targets[:, 0] >= 0).sum())
    assert n > 0 and torch.equal(targets[:n, 0], targets_f[:n, 0])
    torch.testing.assert_close(targets_f[:n, 1], HW[1] - targets[:n, 1])  # centres mirrored
    torch.testing.assert_close(targets_f[:n, 2:], targets[:n, 2:])  # sizes and weights unchanged
    # the targets are the next frame's boxes
    s = plain.samples[idx]
    nxt = frames.ground_truth(s.next)
    r = HW[0] / 128
    big = np.minimum(nxt.boxes[:, 2] - nxt.boxes[:, 0], nxt.boxes[:, 3] - nxt.boxes[:, 1]) * r > 1.0
    expected = np.sort(((nxt.boxes[big, 0] + nxt.boxes[big, 2]) / 2) * r)
    np.testing.assert_allclose(np.sort(targets[:n, 1].numpy()), expected, rtol=1e-5)
    assert (targets[:n, 5] > 0).all()


def test_one_crop_window_for_the_whole_sample(world) -> None:
    frames = _frames(world)
    full = StreamPairDataset(frames, HW, flip_prob=0.0)
    crop = StreamPairDataset(frames, HW, flip_prob=0.0, crop_hw=(32, 64))
    for idx in range(len(full)):
        img, _ = full[idx]
        img_c, targets_c = crop[idx]
        assert img_c.shape == (6, 32, 64)
        # one window, found at the same place in both frames
        hits = [(y, x) for y in range(HW[0] - 32 + 1) for x in range(HW[1] - 64 + 1)
                if torch.equal(img[:, y:y + 32, x:x + 64], img_c)]
        assert hits, f"sample {idx}: the crop is not one window of both frames"
        n = int((targets_c[:, 0] >= 0).sum())
        if n:
            assert (targets_c[:n, 1] >= 0).all() and (targets_c[:n, 1] <= 64).all()
            assert (targets_c[:n, 2] >= 0).all() and (targets_c[:n, 2] <= 32).all()
            assert (targets_c[:n, 5] > 0).all()


def test_training_lowers_the_loss_and_round_trips(world, tmp_path) -> None:
    threads = torch.get_num_threads()
    cfg = StreamTrainConfig(model="streamyolo_nano", train_ann=str(world / "annotations" / "train.json"),
                            train_images=str(world), input_size=HW, multiscale_range=0, epochs=3, warmup_epochs=0,
                            no_aug_epochs=3, batch_size=3, lr_per_image=0.004, num_workers=0, threads=1,
                            print_interval=1, ema=False, cache_images=True, seed=0,
                            init_weights="detector/weights/yolox_demo.pth")
    init = StreamTrainer(cfg, tmp_path / "unused")
    init._setup()
    before = {k: v.clone() for k, v in init.model.state_dict().items()}
    torch.set_num_threads(threads)
    trainer = StreamTrainer(cfg, tmp_path / "run")
    trainer.run()
    assert torch.get_num_threads() == threads
    from detector.trainer_utils import read_metrics

    rows = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "total_loss" in r]
    losses = [r["total_loss"] for r in rows]
    assert len(losses) == 6 and np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    model, meta = load_model(tmp_path / "run" / "best_weights.pth")
    assert isinstance(model, StreamYOLO) and meta.forecast_frames == 1 and meta.model_name == "streamyolo_nano"
    after = model.state_dict()
    moved = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
    assert any(k.startswith("backbone.jian") for k in moved) and any(k.startswith("head.") for k in moved)
    # initialised from the YOLOX demo model: its backbone weights, not a fresh init
    demo, _ = load_model("detector/weights/yolox_demo.pth")
    key = "backbone.backbone.stem.conv.conv.weight"
    assert torch.equal(before[key], demo.state_dict()[key])

    det = load_detector(tmp_path / "run" / "best_weights.pth", conf_thresh=0.0, threads=1)
    assert det.backend.stateful and det.forecast_frames == 1 and det.input_size == HW
    assert tuple(det.classes) == tuple(_frames(world).classes)
    from data.coco import read_image

    seq = _frames(world).sequences[0]
    dets = [det([read_image(f.path)])[0] for f in seq.frames[:2]]
    assert all(len(d) > 0 for d in dets)


@pytest.mark.parametrize("option, fixed_prefix", [("freeze_pan", "backbone."),
                                                   ("freeze_backbone", "backbone.backbone.")])
def test_freeze_keeps_the_detector_part_bit_for_bit(world, tmp_path, option, fixed_prefix) -> None:
    cfg = _config(world, multiscale_range=0, epochs=1, warmup_epochs=0, no_aug_epochs=1, batch_size=3,
                  lr_per_image=0.004, ema=False, cache_images=True, seed=0, **{option: True})
    threads = torch.get_num_threads()
    trainer = StreamTrainer(cfg, tmp_path / "run")
    trainer.run()
    torch.set_num_threads(threads)
    model, _ = load_model(tmp_path / "run" / "best_weights.pth")
    demo, _ = load_model("detector/weights/yolox_demo.pth")
    fixed = demo.state_dict()
    after = model.state_dict()
    # weights and BatchNorm statistics of the frozen part are the YOLOX's, bit for bit
    frozen_keys = [k for k in fixed if k.startswith(fixed_prefix)]
    assert frozen_keys and all(torch.equal(after[k].float(), fixed[k].float()) for k in frozen_keys)
    moved = [k for k in after if k not in fixed or not torch.equal(after[k].float(), fixed[k].float())]
    assert any(k.startswith("backbone.jian") for k in moved) and any(k.startswith("head.") for k in moved)
    pafpn_moved = any(k.startswith("backbone.") and not k.startswith(("backbone.backbone.", "backbone.jian"))
                      for k in moved)
    assert pafpn_moved == (option == "freeze_backbone")


@pytest.mark.parametrize("option", ["freeze_pan", "freeze_backbone"])
def test_freezing_needs_init_weights(world, tmp_path, option) -> None:
    from data.config import ConfigError

    cfg = _config(world, init_weights=None, **{option: True})
    threads = torch.get_num_threads()
    with pytest.raises(ConfigError, match=option):
        StreamTrainer(cfg, tmp_path / "run")._setup()
    torch.set_num_threads(threads)


def test_config_refuses_a_plain_yolox_model() -> None:
    from data.config import ConfigError

    with pytest.raises(ConfigError, match="model"):
        StreamTrainConfig(model="yolox_nano")
    with pytest.raises(ConfigError, match="TAL"):
        StreamTrainConfig(tal_ignore_thr=2.0)


def test_command_usage_names_the_stream_trainer(capsys) -> None:
    from detector.stream_train import main

    with pytest.raises(SystemExit):
        main(["--set"])
    assert "usage: python -m detector.stream_train" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_official_schedule_configs_load(size: str) -> None:
    """configs/train_streamyolo_{s,m,l}.yaml load into StreamTrainConfig with the official values."""
    from pathlib import Path

    from data.config import load_config

    path = Path(__file__).resolve().parents[2] / "configs" / f"train_streamyolo_{size}.yaml"
    cfg = load_config(StreamTrainConfig, path)
    assert cfg.model == f"streamyolo_{size}" and cfg.init_weights == f"yolox_{size}"
    assert (cfg.epochs, cfg.warmup_epochs, cfg.no_aug_epochs, cfg.batch_size) == (15, 1, 15, 32)
    assert cfg.lr_per_image == pytest.approx(0.001 / 64) and tuple(cfg.input_size) == (608, 960)
    thr, value = {"s": (0.5, 1.5), "m": (0.4, 1.7), "l": (0.5, 1.6)}[size]
    assert (cfg.trend.gamma, cfg.trend.ignore_thr, cfg.trend.ignore_value) == (1.0, thr, value)
    assert cfg.aug.mosaic_prob == cfg.aug.mixup_prob == cfg.aug.hsv_prob == 0.0 and cfg.aug.flip_prob == 0.5
    assert cfg.train_ann.endswith("Argoverse-HD/annotations/train.json")
    assert cfg.train_images.endswith("Argoverse-1.1/tracking")
    # official random_size (50, 70) x 16 px around 960: +- 5 steps of 32, also the bare default
    assert cfg.multiscale_range == StreamTrainConfig().multiscale_range == 5


def test_dfp_zero_init_starts_as_the_yolox(world, tmp_path) -> None:
    """With dfp_zero_init, the fresh StreamYOLO's outputs are the init YOLOX's, whatever the previous frame."""
    cfg = _config(world, dfp_zero_init=True)
    threads = torch.get_num_threads()
    trainer = StreamTrainer(cfg, tmp_path / "run")
    trainer._setup()
    torch.set_num_threads(threads)
    model = trainer.model.eval()
    yolox, _ = load_model("detector/weights/yolox_demo.pth")
    yolox = yolox.float().eval()
    gen = torch.Generator().manual_seed(0)
    cur, prev = torch.rand(1, 3, *HW, generator=gen) * 255, torch.rand(1, 3, *HW, generator=gen) * 255
    with torch.no_grad():
        torch.testing.assert_close(model(torch.cat([cur, prev], 1)), yolox(cur), rtol=1e-4, atol=1e-3)
    plain = StreamTrainer(_config(world), tmp_path / "plain")
    plain._setup()
    torch.set_num_threads(threads)
    with torch.no_grad():
        assert not torch.allclose(plain.model.eval()(torch.cat([cur, prev], 1)), yolox(cur))
