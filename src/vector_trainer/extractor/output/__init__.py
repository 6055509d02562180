"""What an extraction writes: checked chat examples split into training and validation
(:mod:`.examples`), the selection report (:mod:`.report`) and the dashboard's map (:mod:`.projection`)."""
