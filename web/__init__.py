"""HTTP layer: the composition root. Only this package reads settings and the environment."""
