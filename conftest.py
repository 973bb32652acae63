"""Test environment for tests/ and the doctests in src/: offline, no third-party plugins."""

import os

# Set before anything imports datasets / huggingface_hub (they read these at import time): a hub
# name then fails at once instead of after ~50 s of DNS retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Guard: installed third-party entry points (a developer's own plugins, or the fixture packages
# tests/test_entry_points.py installs for a moment) stay out of ordinary tests. Tests that need
# entry points run a fresh interpreter with this variable removed.
os.environ["TINYREASON_LOAD_PLUGINS"] = ""
