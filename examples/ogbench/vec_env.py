"""A batch of OGBench single-task environments stepped in lock step: the episode backend qgf_bridge.main()
drives (reset(batch, seed) -> obs [B, obs_dim]; step(actions [B, A]) -> (obs, reward, done, success)).

Episode i of a reset starts from its own seed, derived from (seed, i), so a batch of episodes is the same
whatever the batch size. An episode that has ended keeps returning its last observation with done = 1 and
reward 0, and its actions are ignored, so the C++ evaluator can make one sampler call per action chunk for the
whole batch.
Success is OGBench's info['success']; the single-task environments end an episode when it is reached.
"""

import numpy as np


def episode_seed(seed, i):
    return int(np.random.SeedSequence([int(seed), int(i)]).generate_state(1)[0])


class OgbenchVecEnv:
    def __init__(self, env_name, task):
        import gymnasium

        import ogbench.manipspace  # noqa: F401  (registers the environments)

        self.id = f'{env_name}-singletask-task{task}-v0'
        self._make = lambda: gymnasium.make(self.id)
        self._envs = []
        probe = self._make()
        self.obs_dim = int(probe.observation_space.shape[0])
        self.action_dim = int(probe.action_space.shape[0])
        self.max_steps = int(probe.spec.max_episode_steps)
        self._envs.append(probe)

    def reset(self, batch, seed):
        while len(self._envs) < batch:
            self._envs.append(self._make())
        self._active = self._envs[:batch]
        obs = [env.reset(seed=episode_seed(seed, i))[0] for i, env in enumerate(self._active)]
        self._obs = np.asarray(obs, dtype=np.float32)
        self._done = np.zeros(batch, dtype=np.float32)
        self._success = np.zeros(batch, dtype=np.float32)
        return self._obs.copy()

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != (len(self._active), self.action_dim):
            raise ValueError(f'{self.id}: step() got actions of shape {actions.shape}, '
                             f'expected {(len(self._active), self.action_dim)}')
        reward = np.zeros(len(self._active), dtype=np.float32)
        for i, env in enumerate(self._active):
            if self._done[i]:
                continue
            ob, r, terminated, truncated, info = env.step(np.clip(actions[i], -1, 1))
            self._obs[i] = ob
            reward[i] = r
            self._success[i] = float(info['success'])
            self._done[i] = float(terminated or truncated)
        return self._obs.copy(), reward, self._done.copy(), self._success.copy()

    def close(self):
        for env in self._envs:
            env.close()
