"""GAN training loops (plain PyTorch) and the teacher-training entry point."""

from gansearch.train.dcgan import DCGANTrainConfig, train_dcgan
from gansearch.train.loop import Callback, DivergedError, ProgressBar, TrainState
from gansearch.train.pix2pix import Pix2PixTrainConfig, train_pix2pix
from gansearch.train.singan import SinGANTrainConfig, build_singan, train_singan
from gansearch.train.teacher import TeacherConfig, parse_teacher_config, train_teacher

__all__ = [
    "Callback",
    "DCGANTrainConfig",
    "DivergedError",
    "Pix2PixTrainConfig",
    "ProgressBar",
    "SinGANTrainConfig",
    "TeacherConfig",
    "TrainState",
    "build_singan",
    "parse_teacher_config",
    "train_dcgan",
    "train_pix2pix",
    "train_singan",
    "train_teacher",
]
