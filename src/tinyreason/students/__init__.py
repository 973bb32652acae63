"""Chat formats: think/answer delimiters rendered into a chat template.

Build a registered one with ``tr.chat_format(name, **options)``; ``tr.available("student")`` lists
them (``"qwen-s1"``, ``"think-tags"``, and any a plugin adds).
"""

from .formats import FormatTokens, ThinkFormat, qwen_s1, think_tags

__all__ = ["FormatTokens", "ThinkFormat", "qwen_s1", "think_tags"]
