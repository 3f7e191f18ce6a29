"""A synthetic driving world in Argoverse-HD layout: `generate_world(...)` or `python -m data.synthetic`."""
from data.synthetic.world import generate_world, split_sequences

__all__ = ["generate_world", "split_sequences"]
