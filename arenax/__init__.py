"""arenax: JAX-accelerated simulation and RL toolkit."""

__version__ = "0.1.0"
