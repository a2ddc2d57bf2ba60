"""SRGAN-style patch discriminator, usable by any image-to-image GAN family.

Four blocks, each ``conv3x3 s1 - BN - LeakyReLU(0.2) - conv3x3 s2 - BN - LeakyReLU(0.2)`` (no BN
after the first conv of the first block), widths ``base_channels * (1, 2, 4, 8)`` (64/128/256/512
in the reference), then conv3x3 -> 1 channel. Each output value scores one patch: the output is
(N, 1, H/16, W/16), trained with an LSGAN (MSE) loss against 1 (real) / 0 (fake).

Conditioning is the caller's choice: ``in_channels`` is 3 for an unconditional D that sees the
image only (the shadow model does this, as the reference did); a conditional D (pix2pix style)
gets ``in_channels = 3 + condition channels`` and the concatenation as input.
"""

from __future__ import annotations

from torch import Tensor, nn

DOWNSAMPLING = 16  # four stride-2 convs


def _block(in_channels: int, out_channels: int, first: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)]
    if not first:
        layers.append(nn.BatchNorm2d(out_channels))
    layers += [
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=2, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2, inplace=True),
    ]
    return layers


class PatchDiscriminator(nn.Module):
    """SRGAN-style patch discriminator; input (N, in_channels, H, W) with H, W multiples of 16."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64) -> None:
        super().__init__()
        if in_channels <= 0 or base_channels <= 0:
            raise ValueError(f"in_channels and base_channels must be positive, got {in_channels}, {base_channels}")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        width_in = in_channels
        for index, multiplier in enumerate((1, 2, 4, 8)):
            width_out = base_channels * multiplier
            layers += _block(width_in, width_out, first=index == 0)
            width_in = width_out
        layers.append(nn.Conv2d(width_in, 1, kernel_size=3, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    @staticmethod
    def output_size(height: int, width: int) -> tuple[int, int]:
        """Size of the patch map for an input of ``height`` x ``width``."""
        return height // DOWNSAMPLING, width // DOWNSAMPLING

    def forward(self, image: Tensor) -> Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchDiscriminator expects (N, {self.in_channels}, H, W), got {tuple(image.shape)}"
            )
        height, width = image.shape[-2:]
        if height % DOWNSAMPLING or width % DOWNSAMPLING:
            raise ValueError(
                f"PatchDiscriminator input {height}x{width}: height and width must be divisible by "
                f"{DOWNSAMPLING} (four stride-2 convolutions)"
            )
        return self.model(image)
