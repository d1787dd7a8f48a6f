"""Applications of the training engine: the studies (study 2 here; study 1 still in ``engine.study``)."""
