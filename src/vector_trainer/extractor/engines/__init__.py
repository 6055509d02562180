"""Neighbour engines: density and neighbour lists of the cosine-similarity graph, behind one
interface (:mod:`.base`); :func:`.choice.make_engine` picks one by name or by size."""
