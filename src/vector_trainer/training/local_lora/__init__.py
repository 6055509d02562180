"""The ``local-lora`` trainer: LoRA on a local causal LM with TRL + PEFT, in a detached child
process per job (:mod:`.job`), on prompt-completion or preference rows planned from the data,
and the same model loaded back for the gate (:mod:`.chat_model`)."""
