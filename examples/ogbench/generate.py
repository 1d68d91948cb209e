"""Generates an OGBench manipulation data set the way OGBench's authors did (data_gen_scripts/
generate_manipspace.py, 'play' data: the package's plan oracles with smoothed noise, a new target each time a
subtask is done), seeded and resumable, and writes OGBench's .npz format plus every single task's rewards and
masks (rewards_task1..5, masks_task1..5, relabelled with ogbench.relabel_utils exactly as OGBench's
single-task loaders do), so one file serves all five tasks.

  python examples/ogbench/generate.py --env cube-single --out data/cube-single-play-seed0.npz

writes that file (1000 episodes x 1001 steps by default) and data/cube-single-play-seed0-val.npz (a tenth as
many validation episodes, as OGBench does). Episodes are made in shards of --shard-episodes, each seeded from
(seed, shard index) and saved under <out>.parts/ as it finishes: rerunning the command resumes, and the result
does not depend on where it was interrupted.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import time

import numpy as np

from qgf_paths import quiet_environments

ENVS = ('cube-single', 'cube-double', 'scene', 'puzzle-3x3')
MEMBERS = ('observations', 'actions', 'terminals', 'qpos', 'qvel', 'button_states')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--env', required=True, choices=ENVS, help='OGBench manipulation environment')
    p.add_argument('--out', required=True, help='output .npz (the validation set goes to <out>-val.npz)')
    p.add_argument('--episodes', type=int, default=1000, help='training episodes (OGBench: 1000)')
    p.add_argument('--steps', type=int, default=1001, help='steps per episode (OGBench: 1001)')
    p.add_argument('--val-episodes', type=int, default=None, help='validation episodes (default: episodes // 10)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--noise', type=float, default=0.1, help='action noise of the plan oracles (OGBench: 0.1)')
    p.add_argument('--noise-smoothing', type=float, default=0.5, help='noise smoothing (OGBench: 0.5)')
    p.add_argument('--shard-episodes', type=int, default=25, help='episodes per resumable shard')
    p.add_argument('--force', action='store_true', help='regenerate even if the output files exist')
    p.add_argument('-q', '--quiet', action='store_true', help='no progress bar')
    a = p.parse_args(argv)
    if a.val_episodes is None:
        a.val_episodes = a.episodes // 10
    for name in ('episodes', 'steps', 'shard_episodes'):
        if getattr(a, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be at least 1 (got {getattr(a, name)})')
    if a.val_episodes < 0:
        p.error(f'--val-episodes must be >= 0 (got {a.val_episodes})')
    if not a.out.endswith('.npz'):
        p.error(f'--out must name a .npz file (got {a.out!r})')
    return a


def make_oracles(env_name, env, noise, smoothing):
    """The 'play' oracles of OGBench's generator, per subtask kind."""
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    kw = dict(env=env, noise=noise, noise_smoothing=smoothing)
    if env_name.startswith('cube'):
        return {'cube': CubePlanOracle(**kw)}
    if env_name == 'scene':
        return {
            'cube': CubePlanOracle(**kw),
            'button': ButtonPlanOracle(**kw),
            'drawer': DrawerPlanOracle(**kw),
            'window': WindowPlanOracle(**kw),
        }
    return {'button': ButtonPlanOracle(**kw, gripper_always_closed=True)}  # puzzle


def stack_probability(env_name):
    # OGBench: cube-double stacks with probability U(0, 0.25) per episode, single never, others 0.5.
    if env_name == 'cube-single':
        return 0.0
    if env_name == 'cube-double':
        return np.random.uniform(0.0, 0.25)
    return 0.5


def scene_episode_healthy(qpos):
    """OGBench's scene health check: the cube stays visible unless it is in the drawer."""
    xyz = np.asarray(qpos)[:, 14:17]
    if (xyz[:, 1] >= 0.29).any():
        return False
    return not ((xyz[:, 1] <= -0.3) & ((xyz[:, 2] < 0.06) | (xyz[:, 2] > 0.08))).any()


def run_episode(env_name, env, oracles, rows):
    """One episode of play data appended to `rows` (lists per member); returns False if it must be redone."""
    ob, info = env.reset()
    p_stack = stack_probability(env_name)
    agent = oracles[info['privileged/target_task']]
    agent.reset(ob, info)
    has_buttons = hasattr(env.unwrapped, '_cur_button_states')
    episode = {k: [] for k in MEMBERS}
    done = False
    while not done:
        action = np.clip(np.array(agent.select_action(ob, info)), -1, 1)
        next_ob, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if agent.done:  # the subtask is finished: a new target, and the oracle for it
            agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
            agent = oracles[agent_info['privileged/target_task']]
            agent.reset(agent_ob, agent_info)
        episode['observations'].append(ob)
        episode['actions'].append(action)
        episode['terminals'].append(done)
        episode['qpos'].append(info['prev_qpos'])
        episode['qvel'].append(info['prev_qvel'])
        if has_buttons:
            episode['button_states'].append(info['prev_button_states'])
        ob = next_ob
    if env_name == 'scene' and not scene_episode_healthy(episode['qpos']):
        return False
    for k, v in episode.items():
        rows[k].extend(v)
    return True


def to_arrays(rows):
    dtypes = {'terminals': bool, 'button_states': np.int64}
    return {k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in rows.items() if len(v)}


def save_npz(path, arrays, compressed):
    """Writes atomically: a temporary file in the same directory, then a rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'wb') as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def generate_shard(args, index, first, count, path):
    import gymnasium

    import ogbench.manipspace  # noqa: F401  (registers the environments)

    seq = np.random.SeedSequence([args.seed, index])
    np.random.seed(seq.generate_state(1)[0])  # the oracles and OGBench's generator draw from numpy's global RNG
    env = gymnasium.make(f'{args.env}-v0', terminate_at_goal=False, mode='data_collection',
                         max_episode_steps=args.steps)
    env.reset(seed=int(seq.generate_state(2)[1]))
    oracles = make_oracles(args.env, env, args.noise, args.noise_smoothing)
    rows = {k: [] for k in MEMBERS}
    retries = 0
    for _ in range(count):
        while not run_episode(args.env, env, oracles, rows):
            retries += 1
    env.close()
    save_npz(path, to_arrays(rows), compressed=False)
    return retries


def relabel_all_tasks(env_name, arrays):
    """rewards_task<k>, masks_task<k> for k = 1..5, by OGBench's own single-task relabelling."""
    import gymnasium

    import ogbench.manipspace  # noqa: F401
    from ogbench.relabel_utils import relabel_dataset

    out = {}
    for task in range(1, 6):
        name = f'{env_name}-singletask-task{task}-v0'
        env = gymnasium.make(name)
        view = {k: arrays[k] for k in ('qpos', 'button_states') if k in arrays}
        relabel_dataset(name, env, view)
        out[f'rewards_task{task}'] = view['rewards']
        out[f'masks_task{task}'] = view['masks']
        env.close()
    return out


def require_ogbench():
    try:
        import gymnasium  # noqa: F401

        import ogbench.manipspace  # noqa: F401
    except ImportError as e:
        sys.exit(f'generate: error: {e} (Python {sys.executable})\n  hint: run it with the OGBench environment: '
                 'bash examples/ogbench/install.sh, then examples/ogbench/.venv/bin/python examples/ogbench/generate.py')


def main(argv):
    args = parse_args(argv)
    quiet_environments()
    require_ogbench()
    out = pathlib.Path(args.out)
    val = out.with_name(out.stem + '-val.npz')
    parts = out.with_name(out.name + '.parts')
    if out.exists() and (val.exists() or args.val_episodes == 0) and not parts.exists() and not args.force:
        print(f'generate: {out} is already complete (pass --force to generate it again)', flush=True)
        return 0
    if args.val_episodes == 0 and val.exists():
        print(f'generate: note: removing {val}, left by an earlier run (--val-episodes 0 makes none)', flush=True)
        val.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    parts.mkdir(exist_ok=True)
    settings = {k: getattr(args, k) for k in ('env', 'episodes', 'steps', 'val_episodes', 'seed', 'noise',
                                              'noise_smoothing', 'shard_episodes')}
    saved = parts / 'settings.json'
    if saved.exists() and json.loads(saved.read_text()) != settings:
        sys.exit(f'generate: error: {parts} holds shards made with other settings ({saved.read_text().strip()}); '
                 f'rerun with those flags to resume, or delete {parts} to start over')
    saved.write_text(json.dumps(settings) + '\n')
    total = args.episodes + args.val_episodes
    # Training shards, then validation shards (their own seeds: a shard never mixes the two).
    shards = []
    for split, first, count in (('train', 0, args.episodes), ('val', args.episodes, args.val_episodes)):
        for start in range(first, first + count, args.shard_episodes):
            n = min(args.shard_episodes, first + count - start)
            shards.append((split, start, n, parts / f'{split}-{start:06d}.npz'))
    done_eps = sum(n for _, _, n, p in shards if p.exists())
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done_eps, unit='ep', desc=f'{args.env} play data', dynamic_ncols=True)
        if done_eps:
            bar.write(f'generate: resuming, {done_eps} of {total} episodes already in {parts}')
    t0 = time.time()
    for index, (_, start, n, path) in enumerate(shards):
        if path.exists():
            continue
        retries = generate_shard(args, index, start, n, path)
        if bar:
            bar.update(n)
            if retries:
                bar.write(f'generate: {retries} unhealthy scene episode(s) redone in shard {index}')
    if bar:
        bar.close()

    for split, target in (('train', out), ('val', val)):
        files = [p for s, _, _, p in shards if s == split]
        if not files:
            continue
        loaded = [dict(np.load(p)) for p in files]
        arrays = {k: np.concatenate([d[k] for d in loaded]) for k in loaded[0]}
        arrays.update(relabel_all_tasks(args.env, arrays))
        save_npz(target, arrays, compressed=True)
        print(f'generate: wrote {target} ({len(arrays["terminals"])} rows, {int(arrays["terminals"].sum())} episodes, '
              f'members: {", ".join(sorted(arrays))})', flush=True)
    shutil.rmtree(parts)
    print(f'generate: {total} episodes in {time.time() - t0:.0f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
