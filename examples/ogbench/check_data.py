"""Checks a data set made by generate.py against OGBench's own loader and relabelling:

  python examples/ogbench/check_data.py FILE.npz --env cube-single [--tasks 1,2,3,4,5]

1. ogbench.utils.load_dataset reads the file (OGBench's format), and the arrays it builds (observations,
   actions, next_observations, terminals) equal what qgf_offline reads (qgf_bridge.load_dataset: our C++
   loader, before the trainer clips actions to +-(1 - 1e-5)), element for element;
2. for each task, ogbench.relabel_utils.relabel_dataset on OGBench's loading of the file gives the same
   rewards and masks as the file's rewards_task<k> / masks_task<k> as our loader reads them;
3. the dimensions are those qgf_offline expects for the environment.
Exits 1 on the first mismatch, naming the member, the task and the first differing row.
"""

import argparse
import sys

import numpy as np

from qgf_paths import import_bridge, quiet_environments


def first_difference(a, b):
    bad = np.flatnonzero(~np.isclose(a, b, rtol=0, atol=0).reshape(len(a), -1).all(axis=1))
    return int(bad[0]) if len(bad) else None


def compare(name, ours, theirs):
    theirs = np.asarray(theirs, dtype=np.float32)
    if ours.shape != theirs.shape:
        sys.exit(f'check_data: MISMATCH {name}: our loader gives shape {ours.shape}, OGBench {theirs.shape}')
    row = first_difference(ours, theirs)
    if row is not None:
        sys.exit(f'check_data: MISMATCH {name} at row {row}: ours {ours[row]}, OGBench {theirs[row]}')
    print(f'check_data: {name}: {ours.shape} equal', flush=True)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('file')
    p.add_argument('--env', required=True)
    p.add_argument('--tasks', default='1,2,3,4,5')
    p.add_argument('--build-dir', default=None, help='where qgf_bridge was built (default: found)')
    a = p.parse_args(argv)
    quiet_environments()
    bridge = import_bridge(a.build_dir)
    try:
        import gymnasium
        import ogbench  # noqa: F401
    except ImportError as e:
        sys.exit(f'check_data: error: {e}\n  hint: use examples/ogbench/.venv/bin/python (bash examples/ogbench/install.sh)')

    import ogbench.manipspace  # noqa: F401
    from ogbench.relabel_utils import relabel_dataset
    from ogbench.utils import load_dataset

    spec = next((s for s in bridge.ogbench_specs() if s['name'] == a.env), None)
    if spec is None:
        sys.exit(f'check_data: unknown --env {a.env!r}; one of {[s["name"] for s in bridge.ogbench_specs()]}')
    theirs = load_dataset(a.file, add_info=True)
    env = gymnasium.make(f'{a.env}-singletask-task{spec["default_task"]}-v0')
    if env.observation_space.shape != (spec['obs_dim'],) or env.action_space.shape != (spec['action_dim'],) \
            or env.spec.max_episode_steps != spec['max_steps']:
        sys.exit(f'check_data: MISMATCH {a.env}: OGBench has obs {env.observation_space.shape}, actions '
                 f'{env.action_space.shape}, {env.spec.max_episode_steps} steps; qgf_offline expects {spec}')
    print(f'check_data: {a.env}: obs {spec["obs_dim"]}, actions {spec["action_dim"]}, '
          f'{spec["max_steps"]} steps, as qgf_offline expects', flush=True)
    for task in [int(t) for t in a.tasks.split(',')]:
        ours = bridge.load_dataset(a.file, a.env, task)
        if task == int(a.tasks.split(',')[0]):
            for k in ('observations', 'actions', 'next_observations', 'terminals'):
                compare(k, ours[k], theirs[k])
        name = f'{a.env}-singletask-task{task}-v0'
        view = {k: theirs[k] for k in ('qpos', 'button_states') if k in theirs}
        relabel_dataset(name, gymnasium.make(name), view)
        compare(f'task {task} rewards', ours['rewards'], view['rewards'])
        compare(f'task {task} masks', ours['masks'], view['masks'])
        print(f'check_data: task {task}: {int((view["masks"] == 0).sum())} of {len(view["masks"])} rows succeed',
              flush=True)
    print('check_data: OK', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
