"""Extraction on Ray (extra ``distributed``): k-means cells scanned in tasks (:mod:`.engine`,
:mod:`.cells`, :mod:`.tasks`), blocks read from Parquet inside the tasks (:mod:`.blocks`), the
two-round selection (:mod:`.selection`) and the driver that runs it from files (:mod:`.driver`)."""
