"""Block-HMM parity experiment (arXiv 2602.00286, §5): mean-field parallel decoding vs one-by-one.

Prints, for each parity noise η and tokens per step k, the exact forward KL(p‖q), reverse KL(q‖p)
and incoherent-block rate of the engine's random top-k decoding at temperature 1 (see
:mod:`research.block_hmm`). ``--engine-samples N`` adds rates measured on the engine.

Run: ``OMP_NUM_THREADS=1 python benchmarks/block_hmm.py [--blocks 3 --block-size 4] [--engine-samples 4000]``.
"""

from research.block_hmm import main

if __name__ == "__main__":
    main()
