"""Random-weight Ultralytics YOLOv8-seg models and checkpoints for the importer's tests.

Built from Ultralytics' own `yolov8{n,s}-seg.yaml` (shipped inside the package: no download,
no torchvision import). Every parameter AND every BatchNorm running statistic is randomised with
a seeded generator: Ultralytics' own init leaves BatchNorm an identity (mean 0, var 1, gamma 1,
beta 0) and the class bias at a prior of ~1e-5, which would hide a swapped mean / variance or a
wrong class-bias mapping and leave nothing above the NMS threshold.
"""

from __future__ import annotations

import os
import sys
import tempfile
import types

import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "True")  # Ultralytics probes the network at import otherwise
os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "poison_tf_yolo_cfg"))

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")  # needs torchvision's metadata, not torchvision itself
from ultralytics.nn.tasks import SegmentationModel  # noqa: E402
from ultralytics.utils import ops as yolo_ops  # noqa: E402


def random_seg_model(scale: str, num_classes: int, seed: int = 0) -> SegmentationModel:
    """Ultralytics' YOLOv8-seg of `scale` with `num_classes`, random weights, in eval mode."""
    model = SegmentationModel(f"yolov8{scale}-seg.yaml", nc=num_classes, verbose=False)
    generator = torch.Generator().manual_seed(seed)

    def normal(shape, std):
        return torch.randn(shape, generator=generator) * std

    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".dfl." in name:
                continue
            if param.ndim > 1:  # conv kernels: He-scaled so activations stay O(1) through the net
                head_output = name.split(".")[-2] == "2" and ".22.cv" in name  # last 1x1 convs
                gain = 0.1 if head_output else 1.0  # logits O(1): no probabilities tied at 1.0
                param.copy_(normal(param.shape, gain * (2.0 / param[0].numel()) ** 0.5))
            elif name.endswith("bn.weight"):
                param.copy_(0.5 + torch.rand(param.shape, generator=generator))
            else:  # BatchNorm betas and conv biases (the class biases included)
                param.copy_(normal(param.shape, 0.5))
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(normal(buffer.shape, 0.2))
            elif name.endswith("running_var"):
                buffer.copy_(0.5 + torch.rand(buffer.shape, generator=generator))
    return model.eval()


def save_full_checkpoint(model: SegmentationModel, path: str, image_size: int) -> str:
    """Writes `path` the way Ultralytics' trainer does: a pickled dict holding the model."""
    torch.save(
        {
            "epoch": -1,
            "best_fitness": None,
            "model": model,
            "ema": None,
            "updates": 0,
            "optimizer": None,
            "train_args": {"imgsz": image_size, "task": "segment"},
            "date": "2026-12-07T00:00:00",
            "version": "8.3.40",
        },
        path,
    )
    return path


def torch_forward(model: SegmentationModel, images: np.ndarray):
    """Ultralytics' eval-mode forward on NHWC 0..255 images -> (y [B, 4+nc+32, A], protos NCHW)."""
    with torch.no_grad():
        y, (_, _, protos) = model(torch.from_numpy(images / 255.0).float().permute(0, 3, 1, 2))
    return y, protos


def _greedy_nms(boxes, scores, iou_threshold):
    """What `torchvision.ops.nms` computes (greedy, best score first, drop IoU > threshold), in
    plain torch: torchvision cannot be imported with the CPU torch of these machines."""
    from ultralytics.utils.metrics import box_iou

    order = scores.argsort(descending=True)
    keep = []
    while order.numel():
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[box_iou(boxes[best][None], boxes[rest])[0] <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)


def ultralytics_nms(prediction, monkeypatch, **settings):
    """Ultralytics' own `non_max_suppression` (candidates, multi-label, max_nms, class offset,
    max_det) with only the greedy IoU kernel supplied by `_greedy_nms`."""
    fake = types.ModuleType("torchvision")
    fake.ops = types.SimpleNamespace(nms=_greedy_nms)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    return yolo_ops.non_max_suppression(prediction.clone(), max_time_img=60.0, **settings)


def ultralytics_masks(protos, detections, image_size: int):
    """Ultralytics `process_mask` (proto resolution, cropped, > 0) for one image's detections."""
    return yolo_ops.process_mask(protos, detections[:, 6:], detections[:, :4], (image_size,) * 2)
