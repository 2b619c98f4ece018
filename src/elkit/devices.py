"""Where torch models run: the ``device`` setting, ``--gpu-id``, and reading model outputs back.

The pipeline config's ``[nlp] device`` is ``"cpu"`` (the default), ``"cuda"`` (the current CUDA device) or
``"cuda:N"``; the command line's ``--gpu-id N`` overrides it (``-1``: the CPU, spaCy's convention). A pipeline
resolves it once (:func:`resolve_device`) and hands the ``torch.device`` to each of its components that runs a
torch model (``to_device``); a component builds and loads its model there, creates its input tensors there, and
reads its outputs back with :func:`to_numpy`.

Only the spelling is checked without torch (:func:`check_device_setting`, for the config); whether CUDA is there
is checked when the setting is resolved.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from elkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["DEVICE_SETTING", "check_device_setting", "device_setting", "module_device", "resolve_device",
           "to_numpy"]

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")
DEVICE_SETTING = "[nlp] device"
"""How the setting is named in messages."""


def check_device_setting(value: Any) -> str:
    """The setting itself when it is spelled ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (torch is not imported).

    Raises:
        ValueError: Any other value (pydantic turns it into the config's error message).
    """
    if not isinstance(value, str) or not _DEVICE.match(value.strip()):
        raise ValueError(f"must be \"cpu\", \"cuda\" or \"cuda:N\" (N a device number), got {value!r}")
    return value.strip()


def device_setting(gpu_id: int) -> str:
    """The device setting ``--gpu-id`` stands for: ``-1`` is ``"cpu"``, ``N`` (0 or more) is ``"cuda:N"``.

    Raises:
        ConfigError: A number below -1.
    """
    if isinstance(gpu_id, bool) or not isinstance(gpu_id, int) or gpu_id < -1:
        raise ConfigError(f"--gpu-id must be -1 (the CPU) or a CUDA device number (0 or more), got {gpu_id!r}")
    return "cpu" if gpu_id == -1 else f"cuda:{gpu_id}"


def resolve_device(setting: Any = "cpu", gpu_id: int | None = None, *, where: str = DEVICE_SETTING
                   ) -> torch.device:
    """The torch device a setting names, checked against this machine.

    Args:
        setting: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device`` of those kinds (None: the CPU).
        gpu_id: ``--gpu-id``: when given it replaces ``setting`` (-1: the CPU, N: ``cuda:N``).
        where: The setting's name, for messages.

    Returns:
        ``cpu``, or ``cuda:N`` with N explicit (``"cuda"`` is the current CUDA device).

    Raises:
        ConfigError: A badly spelled setting, CUDA asked for where torch has none, or a device number this
            machine does not have; the message names the setting and what is available.
    """
    import torch

    if gpu_id is not None:
        setting, asked = device_setting(gpu_id), f"--gpu-id {gpu_id}"
    else:
        setting = str(setting) if isinstance(setting, torch.device) else "cpu" if setting is None else setting
        asked = f"{where} = {setting!r}"
    try:
        text = check_device_setting(setting)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    if text == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"{asked} asks for a CUDA GPU, but torch {torch.__version__} sees none on this machine "
                          f"(torch.cuda.is_available() is False); available: cpu. Use the CPU ([nlp] device = "
                          f"\"cpu\", --gpu-id -1), or a CUDA build of torch on a machine with a GPU")
    count = torch.cuda.device_count()
    index = torch.cuda.current_device() if text == "cuda" else int(text.partition(":")[2])
    if index >= count:
        available = ", ".join(["cpu", *(f"cuda:{number}" for number in range(count))])
        raise ConfigError(f"{asked} asks for {text}, but this machine has {count} CUDA "
                          f"device{'s' if count != 1 else ''}; available: {available}")
    return torch.device("cuda", index)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A model output as a NumPy array: detached from autograd and copied to the CPU first when it is elsewhere."""
    return tensor.detach().cpu().numpy()


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for a module with neither."""
    import torch

    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
