"""The MDLM benchmark suite's own code: strict answer extractors (one per answer format)."""
