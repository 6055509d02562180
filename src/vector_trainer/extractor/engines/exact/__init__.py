"""The exact engine (:mod:`.engine`) and its parts: the compiled per-tile kernels, the tile
scheduler and the locality order of the rows."""
