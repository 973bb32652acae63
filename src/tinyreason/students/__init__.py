"""Student formats: think/answer delimiters rendered into a chat template."""

from .formats import FormatTokens, ThinkFormat, qwen_s1, think_tags

__all__ = ["FormatTokens", "ThinkFormat", "qwen_s1", "think_tags"]
