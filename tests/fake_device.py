"""A fake accelerator for CPU-only tests: tensors run on the CPU, but which of them are "on the device" is tracked.

`FakeDevice` is a torch function mode. Inside it, a tensor is on the device when it was created with
``device=FAKE`` (or as ``*_like`` / ``new_*`` of such a tensor), moved there with ``.to(FAKE)``, or computed from
such tensors; a module's weights get there with ``module.to(FAKE)``. ``tensor.device`` says ``FAKE`` for them, so
code that follows its tensors' device behaves as on a GPU. Every rule CUDA enforces that matters to elkit is
checked and broken ones are recorded in `FakeDevice.violations` instead of failing:

* an operation mixing tensors on the device with CPU tensors (a CPU tensor of 0 dimensions is allowed, as CUDA
  allows it; ``copy_`` may cross devices);
* ``.numpy()`` (or ``np.asarray``) of a tensor on the device: it must be copied to the CPU first (``to_numpy``);
* the lengths of ``pack_padded_sequence`` on the device (they must stay on the CPU).

The numbers are the CPU's own, so results under the fake equal a CPU run's exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

FAKE = torch.device("meta")
"""The device components are told to use: never used for real, it stands for a GPU."""

_TAG = "_elkit_on_fake_device"
_FACTORIES = {"zeros", "ones", "full", "empty", "arange", "tensor", "as_tensor", "randn", "rand", "randint",
              "linspace", "logspace", "eye", "scalar_tensor", "empty_strided", "randperm"}
_CROSS_DEVICE = {"copy_", "_has_compatible_shallow_copy_type", "__set__", "_pad_packed_sequence", "is_same_size"}
_RNN = {"lstm", "gru", "rnn_tanh", "rnn_relu"}


def on_device(value: Any) -> bool:
    """True for a tensor the fake device holds."""
    return isinstance(value, torch.Tensor) and bool(getattr(value, _TAG, False))


def _tag(value: Any, flag: bool) -> None:
    for item in tree_flatten(value)[0]:
        if isinstance(item, torch.Tensor):
            setattr(item, _TAG, flag)


def _is_fake(device: Any) -> bool:
    try:
        return device is not None and torch.device(device) == FAKE
    except (TypeError, RuntimeError):
        return False


class FakeDevice(TorchFunctionMode):
    """Track tensors on a pretend device while everything runs on the CPU (see the module docstring).

    Attributes:
        violations: What would have failed on a GPU, one line each.
        device_operations: How many operations ran on the device (a test asserts some did).
        read_back: How many tensors were copied from the device to the CPU.
    """

    def __init__(self) -> None:
        super().__init__()
        self.violations: list[str] = []
        self.device_operations = 0
        self.read_back = 0

    def __enter__(self) -> FakeDevice:
        # nn.Parameter(tensor) is made by Tensor._make_subclass, which no torch function mode sees: a parameter
        # made from a tensor on the device is on the device. torch._dynamo checks _make_subclass's signature when
        # it is first imported (by the first optimizer), so it is imported before the patch.
        import torch._dynamo

        self._own_make_subclass = "_make_subclass" in vars(torch.Tensor)
        self._make_subclass = torch.Tensor._make_subclass

        def make_subclass(cls: type, data: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            made = self._make_subclass(cls, data, *args, **kwargs)
            _tag(made, on_device(data))
            return made

        torch.Tensor._make_subclass = staticmethod(make_subclass)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._own_make_subclass:
            torch.Tensor._make_subclass = self._make_subclass
        else:
            del torch.Tensor._make_subclass
        super().__exit__(*exc)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        if func == torch.Tensor.device.__get__:
            return FAKE if on_device(args[0]) else func(*args, **kwargs)
        if func == torch.Tensor.data.__set__:
            func(*args, **kwargs)
            _tag(args[0], on_device(args[1]))
            return None
        if name in ("to", "cpu", "cuda") and args and isinstance(args[0], torch.Tensor):
            return self._move(func, name, args, kwargs)
        if name in ("numpy", "__array__"):
            if on_device(args[0]):
                self.violations.append(f"{name}() of a tensor on the device {tuple(args[0].shape)}: copy it to "
                                       f"the CPU first (elkit.devices.to_numpy)")
            return func(*args, **kwargs)
        if name in _FACTORIES or name.endswith("_like") or name.startswith("new_"):
            return self._create(func, name, args, kwargs)
        return self._operate(func, name, args, kwargs)

    def _move(self, func: Any, name: str, args: tuple, kwargs: dict) -> Any:
        tensor = args[0]
        if name == "cuda":
            self.violations.append("Tensor.cuda(): move tensors with .to(device)")
            return func(*args, **kwargs)
        if name == "cpu":
            target: bool | None = False
        else:
            target = None
            rest = list(args[1:])
            for position, value in enumerate(rest):
                if isinstance(value, torch.Tensor):
                    target = on_device(value)
                elif isinstance(value, str | torch.device):
                    target = _is_fake(value)
                    rest[position] = torch.device("cpu")
            if "device" in kwargs:
                target = _is_fake(kwargs["device"])
                kwargs["device"] = torch.device("cpu")
            args = (tensor, *rest)
        if target is None or target == on_device(tensor):
            result = func(*args, **kwargs) if name == "to" else tensor
            _tag(result, on_device(tensor))
            return result
        if target is False:
            self.read_back += 1
        args = (tensor, torch.device("cpu"), *args[2:]) if name == "cpu" else args
        result = torch.Tensor.to(*args, **{**kwargs, "copy": True})  # a move is a copy: the original stays put
        _tag(result, bool(target))
        return result

    def _create(self, func: Any, name: str, args: tuple, kwargs: dict) -> Any:
        asked = kwargs.get("device")
        if _is_fake(asked):
            kwargs["device"] = torch.device("cpu")
            flag = True
        elif asked is None and (name.endswith("_like") or name.startswith("new_")
                                or (name in ("tensor", "as_tensor") and args and isinstance(args[0], torch.Tensor))):
            flag = on_device(args[0])
        else:
            flag = False
        result = func(*args, **kwargs)
        _tag(result, flag)
        return result

    def _operate(self, func: Any, name: str, args: tuple, kwargs: dict) -> Any:
        tensors = [item for item in tree_flatten((args, kwargs))[0] if isinstance(item, torch.Tensor)]
        if name in _RNN and len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].dim() == 1:
            tensors = [item for item in tensors if item is not args[1]]  # batch sizes of a packed sequence: CPU
        if name == "_pack_padded_sequence":
            if on_device(args[1]):
                self.violations.append("pack_padded_sequence: the lengths must be on the CPU")
            result = func(*args, **kwargs)
            _tag(result[0], on_device(args[0]))
            _tag(result[1], False)
            return result
        here = [item for item in tensors if on_device(item)]
        elsewhere = [item for item in tensors if not on_device(item) and item.dim() > 0]
        if here and elsewhere and name not in _CROSS_DEVICE:
            self.violations.append(f"{name}: tensors on the device {[tuple(item.shape) for item in here][:3]} "
                                   f"mixed with CPU tensors {[tuple(item.shape) for item in elsewhere][:3]}")
        result = func(*args, **kwargs)
        if name == "_pad_packed_sequence":
            _tag(result[0], on_device(args[0]))
            _tag(result[1], False)
            return result
        if here:
            self.device_operations += 1
        if name != "__set__":
            _tag(result, bool(here))
        return result
