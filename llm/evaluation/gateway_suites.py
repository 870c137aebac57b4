"""llm's own evaluation suites (the gateway's features, not a CRM's): register them here.

Features register theirs from `<app>/evaluation.py`; for the llm app that name is this package, so
`registry.discover()` imports this module explicitly. The injection screen's suite (`llm.injection`,
dataset llm/evals/injection.jsonl) belongs here.
"""
