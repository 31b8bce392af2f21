#!/usr/bin/env python3
"""Builds the torch.save-format fixtures under PioFvlm.Tests/TestData/torchbin/ with the standard library only.

There is no torch here, so the fixtures come from two independent sources:
  * hand_float2.bin: a pickle written opcode by opcode below (no pickler involved), zipped by hand;
  * cpython_*.bin: CPython's own pickler (protocol 2, as torch.save uses) run on stand-in classes that carry the
    torch names (torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...) and a persistent_id that returns the
    tuple torch/serialization.py returns, so data.pkl has the exact opcode shapes torch.save produces;
  * evil_*.bin: classic pickle exploits (os.system, eval, exec) that a safe reader must refuse.
The expected values are written down in PioFvlm.Tests/Loading/TorchBinFixtureTests.cs.

    python3 scripts/make_torchbin_fixtures.py          # (re)write the fixtures
    python3 scripts/make_torchbin_fixtures.py --dump F  # disassemble F's data.pkl with pickletools
"""
import io
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile
from collections import OrderedDict

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "PioFvlm.Tests", "TestData", "torchbin")
MARKER = "/tmp/piofvlm-torchbin-pwned"   # the exploits would create this file if anything ran them


def write_zip(name, prefix, entries):
    """entries: list of (relative name, bytes); stored uncompressed like torch's writer."""
    path = os.path.join(OUT, name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for rel, data in entries:
            info = zipfile.ZipInfo(f"{prefix}/{rel}", date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    print("wrote", os.path.relpath(path))


# ---------------------------------------------------------------- hand-written pickle, no pickler involved
def u(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b

HAND_FLOAT2 = b"".join([
    b"\x80\x02",                                   # PROTO 2
    b"ccollections\nOrderedDict\n", b"q\x00",      # GLOBAL collections.OrderedDict, BINPUT 0
    b")", b"R", b"q\x01",                          # EMPTY_TUPLE, REDUCE -> OrderedDict(), BINPUT 1
    u("w"), b"q\x02",                              # key 'w'
    b"ctorch._utils\n_rebuild_tensor_v2\n", b"q\x03",
    b"(",                                          # MARK: arguments of _rebuild_tensor_v2
    b"(",                                          #   MARK: persistent id tuple
    u("storage"), b"q\x04",
    b"ctorch\nFloatStorage\n", b"q\x05",
    u("0"), b"q\x06",                              #     storage key -> hand_float2/data/0
    u("cpu"), b"q\x07",
    b"K\x02",                                      #     numel 2
    b"t", b"q\x08",                                #   TUPLE
    b"Q",                                          #   BINPERSID
    b"K\x00",                                      #   storage_offset 0
    b"K\x02", b"\x85", b"q\x09",                   #   size (2,)
    b"K\x01", b"\x85", b"q\x0a",                   #   stride (1,)
    b"\x89",                                       #   requires_grad False
    b"h\x00", b")", b"R", b"q\x0b",                #   backward_hooks OrderedDict()
    b"t", b"q\x0c",                                # TUPLE
    b"R", b"q\x0d",                                # REDUCE -> the tensor
    b"s",                                          # SETITEM od['w'] = tensor
    b".",                                          # STOP
])


def hand_fixtures():
    write_zip("hand_float2.bin", "hand_float2", [
        ("data.pkl", HAND_FLOAT2),
        ("byteorder", b"little"),
        ("data/0", struct.pack("<2f", 1.5, -2.0)),
        ("version", b"3\n"),
    ])
    # GLOBAL os.system + REDUCE, the textbook payload, also written by hand.
    evil = b"\x80\x02cos\nsystem\nq\x00" + u(f"touch {MARKER}") + b"\x85R."
    write_zip("evil_os_system.bin", "archive", [("data.pkl", evil), ("byteorder", b"little"), ("version", b"3\n")])


# ---------------------------------------------------------------- CPython's pickler on stand-in torch classes
torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")
torch_mod._utils = utils_mod
sys.modules["torch"] = torch_mod
sys.modules["torch._utils"] = utils_mod

def _stand_in(name):
    def f(*args):
        raise RuntimeError("stand-in, never called")
    f.__name__ = f.__qualname__ = name
    f.__module__ = "torch._utils"
    setattr(utils_mod, name, f)
    return f

rebuild_tensor_v2 = _stand_in("_rebuild_tensor_v2")
rebuild_parameter = _stand_in("_rebuild_parameter")
STORAGE_CLASSES = {}
for cls_name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "BoolStorage"):
    cls = type(cls_name, (), {"__module__": "torch"})
    setattr(torch_mod, cls_name, cls)
    STORAGE_CLASSES[cls_name] = cls


class Storage:
    """Stands for a TypedStorage: persistent_id turns it into torch's ('storage', ...) tuple."""
    def __init__(self, key, cls_name, raw, numel):
        self.key, self.cls, self.raw, self.numel = key, STORAGE_CLASSES[cls_name], raw, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce_ex__(self, proto):   # what torch.Tensor._reduce_ex_internal returns for a CPU tensor
        return (rebuild_tensor_v2, self.args)


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, proto):   # what torch.nn.Parameter.__reduce_ex__ returns without hooks or state
        return (rebuild_parameter, (self.tensor, True, OrderedDict()))


def bf16(x):
    return struct.pack("<f", x)[2:]   # bfloat16 = top two bytes of the float32


def torch_save(name, obj, storages):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda o: ("storage", o.cls, o.key, "cpu", o.numel) if isinstance(o, Storage) else None
    p.dump(obj)
    entries = [("data.pkl", buf.getvalue()), ("byteorder", b"little")]
    entries += [(f"data/{s.key}", s.raw) for s in storages]
    entries.append(("version", b"3\n"))
    write_zip(name, "archive", entries)


def cpython_fixtures():
    s = [
        Storage("0", "FloatStorage", struct.pack("<6f", -1.0, -0.5, 0.0, 0.5, 1.0, 1.5), 6),
        Storage("1", "HalfStorage", struct.pack("<3e", 0.25, -4.0, 1024.0), 3),
        Storage("2", "BFloat16Storage", bf16(1.0) + bf16(-2.5), 2),
        Storage("3", "LongStorage", struct.pack("<3q", 7, -3, 2 ** 40), 3),
        Storage("4", "BoolStorage", bytes([1, 0, 1]), 3),
        Storage("5", "FloatStorage", struct.pack("<6f", 10, 11, 12, 13, 14, 15), 6),
        Storage("6", "FloatStorage", struct.pack("<6f", 1, 2, 3, 4, 5, 6), 6),
        Storage("7", "FloatStorage", struct.pack("<f", 3.0), 1),
        Storage("8", "FloatStorage", struct.pack("<f", 42.0), 1),
        Storage("9", "FloatStorage", struct.pack("<4f", 1, 2, 3, 4), 4),
    ]
    sd = OrderedDict()
    sd["linear.weight"] = Tensor(s[0], 0, (2, 3), (3, 1))
    sd["linear.bias"] = Tensor(s[1], 0, (3,), (1,))
    sd["emb.weight"] = Tensor(s[2], 0, (2,), (1,))
    sd["counts"] = Tensor(s[3], 0, (3,), (1,))
    sd["mask"] = Tensor(s[4], 0, (3,), (1,))
    sd["shared.a"] = Tensor(s[5], 0, (2,), (1,))          # storage 5, elements 0..1
    sd["shared.b"] = Tensor(s[5], 3, (3,), (1,))          # storage 5, elements 3..5
    sd["transposed"] = Tensor(s[6], 0, (3, 2), (1, 3))     # a 2x3 row-major storage seen as its transpose
    sd["param"] = Parameter(Tensor(s[7], 0, (1,), (1,)))
    sd["scalar"] = Tensor(s[8], 0, (), ())
    sd["conv.weight"] = Tensor(s[9], 0, (1, 2, 1, 2), (4, 2, 2, 1))
    # nn.Module.state_dict() sets this attribute; the pickler writes it as BUILD state on the OrderedDict.
    sd._metadata = OrderedDict([("", {"version": 1}), ("linear", {"version": 1})])
    torch_save("cpython_state_dict.bin", sd, s)

    w = Storage("0", "FloatStorage", struct.pack("<2f", 1.0, 2.0), 2)
    inner = OrderedDict([("w", Tensor(w, 0, (2,), (1,)))])
    torch_save("cpython_checkpoint_nested.bin",
               {"epoch": 7, "state_dict": inner, "best_acc": 0.875, "args": ["lr", 1]}, [w])


class EvilSystem:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))   # pickled as posix.system on Linux


class EvilEval:
    def __reduce__(self):
        return (eval, (f"open('{MARKER}', 'w')",))  # protocol 2 names it __builtin__.eval


class EvilExec:
    def __reduce__(self):
        return (exec, (f"open('{MARKER}', 'w')",))  # protocol 4 names it with STACK_GLOBAL


def evil_fixtures():
    w = Storage("0", "FloatStorage", struct.pack("<2f", 1.0, 2.0), 2)
    def save_evil(name, payload, protocol):
        buf = io.BytesIO()
        p = pickle.Pickler(buf, protocol=protocol)
        p.persistent_id = lambda o: ("storage", o.cls, o.key, "cpu", o.numel) if isinstance(o, Storage) else None
        p.dump(OrderedDict([("w", Tensor(w, 0, (2,), (1,))), ("x", payload)]))
        write_zip(name, "archive", [("data.pkl", buf.getvalue()), ("byteorder", b"little"), ("data/0", w.raw), ("version", b"3\n")])
    save_evil("evil_posix_system.bin", EvilSystem(), 2)
    save_evil("evil_builtins_eval.bin", EvilEval(), 2)
    save_evil("evil_stack_global_exec.bin", EvilExec(), 4)


def dump(path):
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            print(f"{info.filename:40s} {info.file_size:8d} bytes, compress_type={info.compress_type}")
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        pickletools.dis(z.read(pkl))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        dump(sys.argv[2])
    else:
        os.makedirs(OUT, exist_ok=True)
        hand_fixtures()
        cpython_fixtures()
        evil_fixtures()
