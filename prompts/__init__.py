"""Prompt templates as files (``*.md``), shipped inside the package; loaded by
``bot.llm.prompts``."""
