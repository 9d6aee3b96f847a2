"""How the shipped default model (lm_eval_mdlm/default_model/checkpoint) was trained: ``recipe`` (tokenizer,
curriculum, the thirteen phases), ``train`` (the loop), ``data`` (the generated corpus), ``token_types`` (an input
channel that was tried and not shipped). ``python -m research.default_model`` retrains it; docs/default_model.md
tells the story with its numbers."""
