"""The one error type for bad user input to decoding (a leaf module: the strategy modules raise it while
:mod:`lm_eval_mdlm.config` builds its configuration from them, so neither can own it)."""


class ConfigError(ValueError):
    """A decoding knob has a value the engine cannot use; the message says how to fix it."""
