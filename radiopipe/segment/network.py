"""3-D V-Net with deep supervision (auxiliary heads on the coarser decoder levels), or MONAI's VNet.

Our V-Net follows Milletari et al.: residual stages of 5x5x5 convolutions, stride-2 2x2x2
convolutions down, transposed convolutions up, skip connections by concatenation, PReLU. With
``depth`` downsamplings the decoder ends ``depth`` stages at resolutions 1/2^(depth-1) ... 1; a
1x1x1 head on each of the ``depth - 1`` coarser ones gives the auxiliary outputs (three for the
default depth of 4, as in the study) and the full-resolution head the main output.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from torch import nn

from radiopipe.config.segmentation import NetworkSettings

OUT_CHANNELS = 2  # background, lesion


def _conv(cin: int, cout: int, settings: NetworkSettings, **kwargs) -> Convolution:
    return Convolution(
        3, cin, cout, kernel_size=kwargs.pop("kernel_size", settings.kernel_size),
        norm=settings.norm, act="PRELU", dropout=settings.dropout or None, **kwargs,
    )  # fmt: skip


class ResidualStage(nn.Module):
    """``n`` convolutions whose output is added to the stage input, then activated."""

    def __init__(self, channels: int, n: int, settings: NetworkSettings) -> None:
        super().__init__()
        self.convs = nn.Sequential(*[_conv(channels, channels, settings) for _ in range(n)])
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual convolutions."""
        return self.act(self.convs(x) + x)


class Down(nn.Module):
    """Stride-2 2x2x2 convolution doubling the channels, then a residual stage."""

    def __init__(self, cin: int, n: int, settings: NetworkSettings) -> None:
        super().__init__()
        self.down = _conv(cin, 2 * cin, settings, kernel_size=2, strides=2, padding=0)
        self.stage = ResidualStage(2 * cin, n, settings)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution."""
        return self.stage(self.down(x))


class Up(nn.Module):
    """Transposed convolution to the skip's channels, concatenation with it, residual stage."""

    def __init__(self, cin: int, cskip: int, n: int, settings: NetworkSettings) -> None:
        super().__init__()
        self.up = _conv(
            cin, cskip, settings, kernel_size=2, strides=2, padding=0, is_transposed=True,
            output_padding=0,
        )  # fmt: skip
        self.stage = ResidualStage(2 * cskip, n, settings)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Double the resolution and merge the encoder features."""
        return self.stage(torch.cat([self.up(x), skip], dim=1))


class DeepSupervisedVNet(nn.Module):
    """V-Net returning [main, aux_1, ..., aux_{depth-1}] in training, the main logits otherwise."""

    def __init__(self, in_channels: int, settings: NetworkSettings) -> None:
        super().__init__()
        c, depth = settings.base_channels, settings.depth
        self.deep_supervision = settings.deep_supervision
        self.stem = _conv(in_channels, c, settings)
        self.stem_skip = nn.Conv3d(in_channels, c, kernel_size=1)
        self.downs = nn.ModuleList(
            Down(c * 2**i, min(i + 2, settings.max_convs), settings) for i in range(depth)
        )
        # Up stage k goes from level depth-k to depth-k-1, ending with c * 2**(depth-k) channels.
        self.ups = nn.ModuleList(
            Up(
                c * 2 ** (depth - k + (k > 0)),
                c * 2 ** (depth - k - 1),
                min(depth - k, settings.max_convs),
                settings,
            )
            for k in range(depth)
        )
        self.head = nn.Conv3d(2 * c, OUT_CHANNELS, kernel_size=1)
        n_aux = depth - 1 if settings.deep_supervision else 0
        self.aux_heads = nn.ModuleList(
            nn.Conv3d(c * 2 ** (depth - k), OUT_CHANNELS, kernel_size=1) for k in range(n_aux)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """Logits (N, 2, X, Y, Z); in training with deep supervision, a list finest first."""
        skips = [self.stem(x) + self.stem_skip(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        aux = []
        for k, up in enumerate(self.ups):
            y = up(y, skips.pop())
            if k < len(self.aux_heads):
                aux.append(self.aux_heads[k](y))
        main = self.head(y)
        if self.training and self.deep_supervision:
            return [main, *reversed(aux)]
        return main


def build_network(settings: NetworkSettings, in_channels: int) -> nn.Module:
    """The configured network for ``in_channels`` input sequences and two output classes."""
    if settings.architecture == "monai_vnet":
        from monai.networks.nets import VNet

        return VNet(
            spatial_dims=3, in_channels=in_channels, out_channels=OUT_CHANNELS,
            dropout_prob_down=settings.dropout or None,
            dropout_prob_up=(settings.dropout or None, settings.dropout),
        )  # fmt: skip
    return DeepSupervisedVNet(in_channels, settings)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
