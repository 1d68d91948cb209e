"""Finding the qgf_bridge module (built by CMake into <build>/examples/ogbench) and quieting the environments."""

import glob
import os
import pathlib
import sys
import warnings

REPO = pathlib.Path(__file__).resolve().parents[2]


def quiet_environments():
    os.environ.setdefault('MUJOCO_GL', 'disable')  # nothing is rendered; there may be no display
    # gymnasium warns that OGBench's float64 action bounds are cast to float32, once per environment.
    warnings.filterwarnings('ignore', message='.*precision lowered by casting.*')


def import_bridge(build_dir=None):
    """Imports qgf_bridge from --build-dir, $QGF_BRIDGE_DIR, or the repository's build*/ folders (newest first)."""
    candidates = [build_dir, os.environ.get('QGF_BRIDGE_DIR')]
    found = sorted(glob.glob(str(REPO / 'build*' / 'examples' / 'ogbench' / 'qgf_bridge*.so')),
                   key=os.path.getmtime, reverse=True)
    candidates += [os.path.dirname(f) for f in found]
    for d in candidates:
        if d and glob.glob(os.path.join(d, 'qgf_bridge*.so')):
            sys.path.insert(0, os.path.abspath(d))
            try:
                import qgf_bridge
            except ImportError as e:
                sys.exit(f'error: cannot import qgf_bridge from {d} with Python {sys.version.split()[0]}: {e}\n'
                         '  hint: the module is built for the Python CMake found; create the venv from that one '
                         '(examples/ogbench/install.sh) or rebuild with -DPython_EXECUTABLE=' + sys.executable)
            return qgf_bridge
    sys.exit('error: the qgf_bridge module was not found (looked in --build-dir, $QGF_BRIDGE_DIR and '
             f'{REPO}/build*/examples/ogbench)\n  hint: install python3-dev and pybind11-dev (scripts/install_deps.sh) '
             'and build the project: cmake -S . -B build && cmake --build build --target qgf_bridge')
