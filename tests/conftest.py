import pytest

from crowd_model.parameters import Parameters


@pytest.fixture
def small_epstein():
    """Epstein's Run 2 on a small torus, for fast tests."""
    return Parameters(width=15, height=15)
