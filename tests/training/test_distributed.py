"""The training entry under real launchers: 2 processes on CPU (gloo), one global batch.

Each launch starts two Python processes that import torch and TRL, so a run takes 15-30 s on two
cores: marked slow. Timeouts keep a stuck rendezvous from hanging the suite.
"""

import json
import os
import subprocess
import sys

import pytest

import tinyreason as tr
from tinyreason.training import verify_checkpoint

LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--standalone"],
    # accelerate's CPU flag runs a single process; --multi_gpu spawns torchrun-style workers,
    # which fall back to gloo on a machine without GPUs.
    "accelerate": [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"],
}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_processes_share_one_global_batch(launcher, tiny_base, traces, tmp_path):
    from transformers import AutoModelForCausalLM

    data, out = tmp_path / "traces.jsonl", tmp_path / "student"
    traces.to_json(str(data))
    if launcher == "torchrun":
        command = [*LAUNCHERS[launcher], "--nproc_per_node", "2"]
    else:
        command = [*LAUNCHERS[launcher], "--num_processes", "2", "--num_machines", "1"]
        command += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["-m", "tinyreason", "train", "--data", str(data), "--base", str(tiny_base)]
    command += ["--format", "think-tags", "--output", str(out), "--set", "max_steps=2"]
    command += ["--set", "batch_size=4", "--set", "per_device_batch_size=1"]
    command += ["--set", "learning_rate=1e-3", "--set", "progress=false", "--set", "save_steps=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])  # rank 0 alone prints it
    assert done.stdout.count('"student"') == 1
    per_rank = summary["metrics"]["tokens_per_rank"]
    assert len(per_rank) == 2 and all(n > 0 for n in per_rank)  # both ranks trained
    assert sum(per_rank) == summary["metrics"]["tokens"]
    manifest = json.loads((out / "tinyreason.json").read_text())
    assert manifest["hyperparameters"]["world_size"] == 2
    assert manifest["hyperparameters"]["gradient_accumulation_steps"] == 2  # 4 = 1 x 2 x 2
    assert manifest["metrics"]["steps"] == 2
    AutoModelForCausalLM.from_pretrained(out)
    assert tr.TrainedStudent.load(out).format.name == "think-tags"  # sealed and verified
    # Rank 0 sealed each checkpoint once every rank had written its part (a gather first).
    for step in (1, 2):
        assert verify_checkpoint(out / f"checkpoint-{step}").meta["step"] == step
