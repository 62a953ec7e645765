import gymnasium as gym

from agents.episode import play_episode
from agents.random_agent import RandomAgent, RandomAgentConfig


class CountingAgent(RandomAgent):
    def __init__(self, env: gym.Env) -> None:
        super().__init__(env.observation_space, env.action_space, RandomAgentConfig(), seed=0)
        self.clears = self.acts = self.observes = 0
        self.rewards = 0.0

    def clear_state(self) -> None:
        self.clears += 1

    def act(self, obs):
        self.acts += 1
        return super().act(obs)

    def observe(self, next_obs, reward, terminated, truncated) -> None:
        self.observes += 1
        self.rewards += reward


def test_play_episode_follows_the_protocol_and_counts():
    env = gym.make("CartPole-v1")
    agent = CountingAgent(env)
    first = play_episode(agent, env, seed=4)
    assert (agent.clears, agent.acts, agent.observes) == (1, first.length, first.length)
    assert first.episode_return == agent.rewards == first.length  # CartPole pays 1 per step
    again = play_episode(CountingAgent(env), gym.make("CartPole-v1"), seed=4)
    assert again == first
