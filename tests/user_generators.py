"""Generators written outside gansearch, as a user's own code; tests name them by file path
(``tests/user_generators.py:make_decoder``), as a user names theirs."""

from torch import nn


class TinyDecoder(nn.Module):
    """Latent vectors to small grey images: a linear layer, then two transposed convolutions."""

    def __init__(self, nz: int = 8, width: int = 16, channels: int = 1) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Linear(nz, width * 2 * 2)
        self.up = nn.Sequential(
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.ConvTranspose2d(width // 2, channels, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z):
        return self.up(self.project(z).view(z.shape[0], self.width, 2, 2))  # (N, C, 8, 8)


def make_decoder(**kwargs) -> TinyDecoder:
    return TinyDecoder(**kwargs)


def not_a_module():
    return "a string"
