#!/usr/bin/env python3
"""Generate a large PyTorch-format checkpoint without PyTorch, for benchmarks.

Writes the layout torch.save uses since 1.6: a zip (stored, zip64) with
`<name>/data.pkl` (a protocol-2 pickle of an OrderedDict of tensors rebuilt
by torch._utils._rebuild_tensor_v2 from persistent storage ids),
`<name>/data/<key>` raw float32 storages, `<name>/version` and
`<name>/byteorder`. Stand-in `torch` modules are registered in sys.modules
only so that `pickle` can name the globals; nothing here imports torch and
nothing is ever unpickled.

Usage: model_gen_checkpoint.py OUT.pt SIZE_MIB [--tensors N]
"""

import collections
import io
import os
import pickle
import sys
import types
import zipfile


def fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called
        raise RuntimeError("stand-in")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"

    class FloatStorage:  # stand-in type, only named by the pickle
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return utils._rebuild_tensor_v2, torch.FloatStorage


class Storage:
    def __init__(self, key, numel, storage_type):
        self.key, self.numel, self.storage_type = key, numel, storage_type


class Tensor:
    def __init__(self, storage, numel, rebuild):
        self.storage, self.numel, self.rebuild = storage, numel, rebuild

    def __reduce__(self):
        return (
            self.rebuild,
            (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict()),
        )


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def main():
    out, size_mib = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--tensors" else 64
    rebuild, float_storage = fake_torch()
    per = size_mib * (1 << 20) // n // 4  # float32 elements per tensor
    state = collections.OrderedDict()
    for i in range(n):
        state[f"layers.{i}.weight"] = Tensor(Storage(str(i), per, float_storage), per, rebuild)
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    name = os.path.splitext(os.path.basename(out))[0]
    chunk = os.urandom(1 << 20)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(f"{name}/data.pkl", buf.getvalue())
        z.writestr(f"{name}/byteorder", "little")
        for i in range(n):
            with z.open(f"{name}/data/{i}", "w", force_zip64=True) as f:
                left = per * 4
                while left > 0:
                    f.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
        z.writestr(f"{name}/version", "3\n")


if __name__ == "__main__":
    main()
