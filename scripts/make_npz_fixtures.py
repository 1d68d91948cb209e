#!/usr/bin/env python3
"""Writes the small .npz fixtures that tests/test_rl_data.cpp reads (tests/data/*.npz).

The files are made by numpy itself (np.savez / np.savez_compressed) so the C++ reader is checked against the
real writer: its zip64 extra fields, header padding, fortran_order flag and dtype strings. The values are
simple closed forms that the tests restate exactly; change both together.

Usage: python3 scripts/make_npz_fixtures.py [out_dir]   (default: tests/data next to this script's repo root)
Each file is written to a temporary name in the same directory and renamed, so a crash never leaves a
half-written fixture behind.
"""
import os
import sys
import tempfile

import numpy as np


def mixed_arrays():
    """One member per supported dtype and layout (tests check every value)."""
    return {
        "f4": (np.arange(6, dtype="<f4").reshape(2, 3) * 0.5 - 1.0).astype("<f4"),
        "f8": np.array([0.1, -2.5, 1e300], dtype="<f8"),
        "i4": np.array([[1, -2], [2147483647, -2147483648]], dtype="<i4"),
        "i8": np.array([0, -1, 2147483647, -2147483648], dtype="<i8"),
        "b1": np.array([True, False, True, True, False]),
        "u1": np.array([0, 1, 255], dtype="|u1"),
        "scalar": np.array(3.25, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        # F-contiguous arrays are saved with fortran_order True and column-major data.
        "fortran": np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)),
        "fortran3": np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)),
    }


def raw_ogbench():
    """Raw OGBench layout: 2 trajectories of 5 and 4 states, terminals on each last row, no next_observations.

    Row r: observations [r, 10 + r, 100 + r], actions [r / 4 - 1, 1 - r / 8] (row 0 is exactly [-1, 1], for the
    clipping test), plus info members (qpos, button_states) the loader must not need.
    """
    n = 9
    r = np.arange(n, dtype=np.float32)
    return {
        "observations": np.stack([r, 10 + r, 100 + r], axis=1).astype("<f4"),
        "actions": np.stack([r / 4 - 1, 1 - r / 8], axis=1).astype("<f4"),
        "terminals": np.array([0, 0, 0, 0, 1, 0, 0, 0, 1], dtype=bool),
        "qpos": np.zeros((n, 4), dtype="<f8"),
        "button_states": np.zeros((n, 2), dtype="<i8"),
    }


def transitions():
    """Transition layout: 2 episodes of 6 and 5 steps with rewards, masks and next_observations.

    Row r: observations [r, -r], next_observations [r + 0.5, -r - 0.5], actions [r, 2r, 3r] / 10, reward r + 1,
    masks 1 except row 2 (a success inside episode 1) and row 10; terminals on rows 5 and 10.
    """
    n = 11
    r = np.arange(n, dtype=np.float32)
    masks = np.ones(n, dtype="<f4")
    masks[[2, 10]] = 0.0
    terminals = np.zeros(n, dtype=bool)
    terminals[[5, 10]] = True
    return {
        "observations": np.stack([r, -r], axis=1).astype("<f4"),
        "next_observations": np.stack([r + 0.5, -r - 0.5], axis=1).astype("<f4"),
        "actions": (np.stack([r, 2 * r, 3 * r], axis=1) / 10).astype("<f4"),
        "rewards": (r + 1).astype("<f4"),
        "masks": masks,
        "terminals": terminals,
    }


def write_atomic(path, save, arrays):
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            save(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data")
    os.makedirs(out, exist_ok=True)
    files = [
        ("mixed_compressed.npz", np.savez_compressed, mixed_arrays()),
        ("mixed_stored.npz", np.savez, mixed_arrays()),
        ("toy_raw.npz", np.savez_compressed, raw_ogbench()),
        ("toy_transitions.npz", np.savez, transitions()),
    ]
    total = 0
    for name, save, arrays in files:
        path = os.path.join(out, name)
        write_atomic(path, save, arrays)
        total += os.path.getsize(path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
