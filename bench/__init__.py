"""Benchmarks (not tests): ``python -m bench.retrieval`` measures the knowledge-base retriever."""
