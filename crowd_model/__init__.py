"""crowd_model: an agent-based model of a post-election protest, its riot and its containment."""

from crowd_model.errors import InputError
from crowd_model.parameters import Parameters, parameter_specs

__all__ = ["InputError", "Parameters", "parameter_specs"]
