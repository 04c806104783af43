"""Reads frames from a running source in a plain python3 process, as a notebook would, and checks
what the xmem module promises there: frames are read-only numpy views of the pool buffer (the
test frame's header is in their first bytes), DLPack gives the same memory (read-only in its
versioned form), a held frame shows as held by this process and released ones refuse use, and
iteration ends with the stream.
    python3 read_frames.py POOL ENDPOINT FRAMES"""
import ctypes
import os
import sys

import numpy as np

import xmem

pool_name, endpoint, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
pool = xmem.Pool(pool_name)
sub = xmem.Subscriber(pool_name, endpoint, depth=4, policy="block")


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)


def address(a):
    return a.__array_interface__["data"][0]


def versioned_read_only(frame):
    """The flags word of a versioned DLPack capsule (dlpack.h 1.0): bit 0 is read-only."""
    cap = frame.__dlpack__(max_version=(1, 0))
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = get_name(cap)
    flags = ctypes.c_uint64.from_address(get_ptr(cap, name) + 8 + 8 + 8).value
    return name, bool(flags & 1)


try:
    import torch  # only where python3-torch happens to be installed
except ImportError:
    torch = None

seen, last, held = 0, None, []
for frame in sub:
    a = frame.array
    check(frame.readonly and not a.flags.writeable, "a received frame is read-only")
    check(a.shape == (48, 64, 3) and a.dtype == np.uint8, f"layout {a.shape} {a.dtype}")
    check(bytes(a.reshape(-1)[:8]) == b"XMTFRAME", "the test frame's header, in place")
    check(last is None or frame.sequence > last, "sequence numbers grow")
    last = frame.sequence
    try:
        a[0, 0, 0] = 0
        check(False, "writing to a received frame raises")
    except ValueError:
        pass
    d = np.from_dlpack(frame)
    check(address(d) == address(a) and np.array_equal(d, a), "DLPack views the same bytes")
    check(frame.__dlpack_device__() == (1, 0), "a CPU frame's DLPack device")
    check(versioned_read_only(frame) == (b"dltensor_versioned", True), "versioned, read-only")
    if torch is not None:
        t = torch.from_dlpack(frame)
        check(t.data_ptr() == address(a) and t.shape == (48, 64, 3), "torch views the same bytes")
        del t
    del a, d
    held.append(frame)
    if len(held) == 3:
        check(pool.held_by(os.getpid()) >= 3, f"held frames show: {pool.holders()}")
        for f in held:
            f.release()
        try:
            held[0].array
            check(False, "a released frame refuses use")
        except xmem.ReleasedError:
            pass
        held = []
    seen += 1
check(seen == total, f"{seen} frames, expected {total}")
del frame, held
check(pool.held_by(os.getpid()) == 0, f"nothing held at the end: {pool.holders()}")
sub.close()
pool.close()
print(f"outside: {seen} frames checked, DLPack ok, torch {'ok' if torch else 'not installed'}")
