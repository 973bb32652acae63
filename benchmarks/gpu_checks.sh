#!/usr/bin/env bash
# The GPU-only paths in one run, for a lent GPU machine (docs/performance.md records its output).
#
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
#
# Expects python3 with torch (CUDA), accelerate and pytest; the rest of the pin set (transformers,
# trl, peft, datasets, math-verify) either installed or as wheels in .whl/ (installed into
# /tmp/site here). tinyreason itself is read from src/. Each step has its own time limit, so one
# slow step cannot starve the others; the steps:
#   1. the training tests on the GPU (bf16 and gradient checkpointing are the GPU defaults);
#   2. the transformers backend tests on the GPU (budget forcing, voting, equivalence);
#   3. a real-size training step (Qwen2.5-0.5B and 1.5B shapes, bf16): tokens/s and MFU;
#   4. FSDP (the shipped accelerate template) through `tinyreason train`, one process;
#   5. budget forcing and majority voting overhead benchmarks on the GPU.
set -u
OUT=${1:-${OUT:-/tmp/tinyreason-gpu}}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
log() { echo "=== $* ($(date +%T))"; }

log versions
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, trl, peft, accelerate, datasets; \
print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, \
'peft', peft.__version__, 'accelerate', accelerate.__version__, 'datasets', datasets.__version__)"

log "1. training tests on the GPU"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/training \
    --deselect tests/training/test_distributed.py 2>&1 | tail -n 15

log "2. transformers backend and scaler tests on the GPU"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/scaling/test_transformers_backend.py \
    tests/scaling/test_processor.py tests/scaling/test_scalers.py 2>&1 | tail -n 8

log "3. real-size training steps (bf16)"
timeout 150 python3 benchmarks/training_gpu_step.py --shape 0.5b --steps 8 \
    --runs full,lora,full-packed 2>&1 | tee "$OUT/gpu_step_0.5b.txt" | grep -v '^\[{'
timeout 90 python3 benchmarks/training_gpu_step.py --shape 1.5b --steps 6 \
    --runs full,lora 2>&1 | tee "$OUT/gpu_step_1.5b.txt" | grep -v '^\[{'

log "4. FSDP template through tinyreason train (one process)"
work=$(mktemp -d)
python3 - "$work" <<'EOF'
import sys
from pathlib import Path

import tinyreason as tr

work = Path(sys.argv[1])
tr.testing.tiny_model(work / "base")
teacher = tr.testing.FakeTeacher()
problems = [tr.Problem(f"p{i}", f"What is {i} + {i}?", answer=str(2 * i)) for i in range(16)]
for i in range(16):
    teacher.enqueue(f"{i} + {i} = {2 * i}. " * (1 + i % 5), f"Answer: {2 * i}")
teacher.distill(problems, progress=False).to_json(str(work / "traces.jsonl"))
EOF
fsdp=$(python3 -c "import tinyreason as tr; print(tr.training.accelerate_config('fsdp'))")
timeout 120 python3 -m accelerate.commands.launch --config_file "$fsdp" --num_processes 1 \
    -m tinyreason train --data "$work/traces.jsonl" --base "$work/base" --format think-tags \
    --output "$work/student" --set max_steps=4 --set batch_size=4 --set learning_rate=1e-3 \
    --set progress=false 2>&1 | tail -n 5
python3 -c "
import json, sys
from transformers import AutoModelForCausalLM
m = json.load(open('$work/student/tinyreason.json'))
AutoModelForCausalLM.from_pretrained('$work/student')
h = m['hyperparameters']
print('FSDP student loads; steps', m['metrics']['steps'], 'bf16', h['bf16'],
      'weights', h['model_dtype'], 'final loss', round(m['metrics']['final_loss'], 3))
"

log "5. scaling overhead on the GPU"
timeout 120 python3 benchmarks/budget_forcing_overhead.py --hidden 896 --layers 12 --repeats 3 \
    2>&1 | tee "$OUT/budget_forcing_gpu.txt"
timeout 60 python3 benchmarks/majority_vote_batching.py --repeats 3 2>&1 \
    | tee "$OUT/majority_vote_gpu.txt"
log done
