"""lm-eval-mdlm: masked diffusion language models in EleutherAI's lm-evaluation-harness.

Importing this package is cheap on purpose (no torch): ``lm_eval_mdlm.pth`` imports the registration
hook in every Python process. The model class lives in :mod:`lm_eval_mdlm.model`.
"""

__version__ = "0.1.0"
