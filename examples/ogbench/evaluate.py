"""Evaluates a qgf_offline run trained on OGBench data in the official OGBench environment:

  python examples/ogbench/evaluate.py --results runs/cube-single-task2-seed0 [qgf_offline evaluate flags]

This is `qgf_offline evaluate` itself, run in-process through the qgf_bridge module, with the episodes
stepped by OGBench's single-task environments (vec_env.py): every method and setting on validation episodes
(which choose the setting) and test episodes (which are reported), one batched sampler call per control step,
action chunks executed open loop; the tables (results.md, results.csv, sweep.csv) and plots land in the run
directory exactly as for the built-in environments. Any qgf_offline flag is passed on (e.g. --weights 0,0.1,1,
--eval-episodes 50, --methods BC,QGF, --checkpoint FILE, --device cuda); `all` or `train` instead of the
default `evaluate` as the first argument runs that subcommand.
"""

import sys

from qgf_paths import import_bridge, quiet_environments


def main(argv):
    if argv and argv[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    build_dir = None
    if '--build-dir' in argv:
        i = argv.index('--build-dir')
        if i + 1 >= len(argv):
            print('evaluate: error: --build-dir needs a value', file=sys.stderr)
            return 2
        build_dir = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    command = argv[0] if argv and argv[0] in ('evaluate', 'all', 'train') else 'evaluate'
    if argv and argv[0] == command:
        argv = argv[1:]
    quiet_environments()
    bridge = import_bridge(build_dir)
    try:
        import ogbench.manipspace  # noqa: F401
    except ImportError as e:
        print(f'evaluate: error: {e}\n  hint: use examples/ogbench/.venv/bin/python (bash examples/ogbench/install.sh)',
              file=sys.stderr)
        return 1
    from vec_env import OgbenchVecEnv

    return bridge.main([command] + argv, make_env=OgbenchVecEnv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
