"""The only code that talks to a model provider. It knows nothing about CRMs.

Features call `ask(...)` and register an offline writer for their feature name with
`@offline_writer("app.feature")`; see docs/llm.md.
"""

from llm.gateway import LLMResult, ask, offline_writer

__all__ = ["LLMResult", "ask", "offline_writer"]
