"""Test environment for tests/ and the doctests in src/: offline, no third-party plugins."""

import os
import tempfile

# Set before anything imports datasets / huggingface_hub (they read these at import time): a hub
# name then fails at once instead of after ~50 s of DNS retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Guard: installed third-party entry points (a developer's own plugins, or the fixture packages
# tests/test_entry_points.py installs for a moment) stay out of ordinary tests. Tests that need
# entry points run a fresh interpreter with this variable removed.
os.environ["TINYREASON_LOAD_PLUGINS"] = ""
# Caches that would otherwise land in the user's home (teacher replies, embeddings): one
# throw-away folder per test session.
_CACHE_DIR = tempfile.mkdtemp(prefix="tinyreason-test-cache-")
os.environ["TINYREASON_CACHE"] = os.path.join(_CACHE_DIR, "teachers.sqlite")
os.environ["TINYREASON_EMBEDDINGS"] = os.path.join(_CACHE_DIR, "embeddings")
