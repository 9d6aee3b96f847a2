"""ParallelBench §4.2 (Table 1, Eq. 5): accuracies of decoding strategies on the list-operation
oracle measured with the real engine, next to the paper's closed forms.

Run: ``OMP_NUM_THREADS=1 python benchmarks/oracle_list_ops.py [--samples 2000]``.
"""

from research.oracle_experiments import main

if __name__ == "__main__":
    main()
