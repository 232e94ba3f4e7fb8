"""Generator layouts published by other projects, written here from their papers and code
layouts, for benchmarks and tests that must run on models gansearch did not define.

``MobileResnetGenerator``: GAN Compression's (Li et al., CVPR 2020) mobile ResNet generator, the
ResNet-9 of pix2pix/CycleGAN with every residual-block convolution made separable (a depthwise
convolution, a norm, a pointwise convolution); ``ngf`` 64 is its teacher, thinner widths its
students' scale.
"""

from __future__ import annotations

from torch import nn


class SeparableConv2d(nn.Module):
    def __init__(self, ic, oc, kernel_size, padding=0, norm=nn.InstanceNorm2d, scale_factor=1):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(ic, ic * scale_factor, kernel_size, 1, padding, groups=ic, bias=True),
            norm(ic * scale_factor),
            nn.Conv2d(ic * scale_factor, oc, kernel_size=1, bias=True))

    def forward(self, x):
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    def __init__(self, dim, norm, dropout_rate=0.0):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), SeparableConv2d(dim, dim, 3, norm=norm), norm(dim), nn.ReLU(True),
            nn.Dropout(dropout_rate),
            nn.ReflectionPad2d(1), SeparableConv2d(dim, dim, 3, norm=norm), norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class MobileResnetGenerator(nn.Module):
    def __init__(self, ngf=8, n_blocks=9, norm=nn.InstanceNorm2d):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1), norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [MobileResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1),
                       norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)
