"""Torch baselines behind the Agent protocol: ``DQNAgent`` (dqn.py) and ``PPOAgent`` (ppo.py).

Import the agent modules directly (``agents.torch_agents.dqn``); this package ``__init__`` and
``agents.torch_agents.config`` stay torch-free so building a config costs no torch import.
"""
