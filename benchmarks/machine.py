"""One line saying what a benchmark ran on, printed above every table."""

from __future__ import annotations

import os
import platform

import torch


def describe(device: str = "cpu") -> str:
    if device.startswith("cuda"):
        where = f"GPU {torch.cuda.get_device_name(torch.device(device))}"
    else:
        threads = torch.get_num_threads()
        where = f"CPU {_cpu_model()}, {threads} thread{'' if threads == 1 else 's'} of {os.cpu_count()} cores"
    return f"{where}; torch {torch.__version__}, Python {platform.python_version()}, {platform.system()}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
