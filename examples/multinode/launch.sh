#!/usr/bin/env bash
# Train a tinyreason student on several nodes: the s1 recipe (global batch 16 on any GPU count).
#
# Run this same script on every node, with the same MASTER_ADDR and a different NODE_RANK:
#
#   # node 0 (its address is the master):
#   MASTER_ADDR=10.0.0.1 NNODES=2 NODE_RANK=0 GPUS_PER_NODE=8 ./launch.sh
#   # node 1:
#   MASTER_ADDR=10.0.0.1 NNODES=2 NODE_RANK=1 GPUS_PER_NODE=8 ./launch.sh
#
# Under Slurm, `sbatch slurm.sbatch` sets these from the allocation and calls this script.
#
# LAUNCHER=accelerate (default) runs through `accelerate launch` with tinyreason's FSDP config (full
# shard, auto-wrap on the decoder layer, as s1) or, with ACCELERATE_CONFIG=deepspeed_zero3, DeepSpeed
# ZeRO-3: the model, gradients and optimiser state are sharded over every GPU, which a 32B full
# fine-tune needs. LAUNCHER=torchrun runs plain data parallelism (DDP): each GPU holds the whole
# model and its float32 optimiser state (~16 bytes a parameter), so use it for LoRA or small bases.
# Every node needs the same data, model and tinyreason version; the output folder should be on a
# shared filesystem (rank 0 writes the student, its manifest and its model card).
set -euo pipefail

: "${MASTER_ADDR:?set MASTER_ADDR to the address of node 0}"
MASTER_PORT=${MASTER_PORT:-29500}
NNODES=${NNODES:-2}
NODE_RANK=${NODE_RANK:-0}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
LAUNCHER=${LAUNCHER:-accelerate}
ACCELERATE_CONFIG=${ACCELERATE_CONFIG:-fsdp}

DATA=${DATA:-data/s1K.jsonl}                     # traces: a file, a folder or a hub name
BASE=${BASE:-Qwen/Qwen2.5-32B-Instruct}
OUTPUT=${OUTPUT:-runs/s1-32b}
TRAINER=${TRAINER:-full}                         # or lora
PRESET=${PRESET:-s1}

# Everything after the launcher's own options is the ordinary `tinyreason train` command line;
# extra arguments to this script are passed on (e.g. --set block_size=20000 --resume).
TRAIN=(-m tinyreason train --data "$DATA" --base "$BASE" --format qwen-s1 --trainer "$TRAINER"
       --preset "$PRESET" --output "$OUTPUT" "$@")

# Fail fast on every node before anyone holds a GPU for nothing: the data and format are checked
# (empty loss masks, truncation, end of turn) without loading the model's weights.
python -m tinyreason train --data "$DATA" --base "$BASE" --format qwen-s1 --trainer "$TRAINER" \
    --preset "$PRESET" --output "$OUTPUT" --preflight "$@"

case "$LAUNCHER" in
  torchrun)
    exec torchrun --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$GPUS_PER_NODE" \
      --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv_id tinyreason \
      "${TRAIN[@]}"
    ;;
  accelerate)
    # A copy of the shipped config (the DeepSpeed one names its JSON by an absolute path).
    CONFIG=$(python -c 'import sys, tinyreason.training as t; print(t.accelerate_config(*sys.argv[1:]))' \
      "$ACCELERATE_CONFIG" "runs/accelerate-node$NODE_RANK")
    exec accelerate launch --config_file "$CONFIG" \
      --num_machines "$NNODES" --machine_rank "$NODE_RANK" \
      --num_processes $((NNODES * GPUS_PER_NODE)) \
      --main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT" \
      "${TRAIN[@]}"
    ;;
  *)
    echo "LAUNCHER must be torchrun or accelerate, got $LAUNCHER" >&2
    exit 2
    ;;
esac
