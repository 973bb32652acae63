"""The recipe step by step, on the embedded arithmetic task, on a CPU (about a minute).

Run: ``.venv/bin/python examples/quickstart.py``. Each step is what you would type in a notebook.
"""

import tinyreason as tr
from tinyreason.demo.model import build_student
from tinyreason.demo.task import make_problems

# 1. Distil: a teacher writes a reasoning trace for every problem in the pool.
pool = make_problems(400, seed=0)
traces = tr.teacher("arithmetic", error_rate=0.05).distill(pool)
print(traces)

# 2. Select: drop wrong traces, then sample across domains favouring long traces (s1).
selection = tr.select(
    traces,
    tr.selector("quality", require_correct=True),
    tr.selector("diversity", k=200, seed=0),
)
print(selection)

# 3. Train: a tiny student from scratch, loss on the thinking and the answer only.
base = build_student("runs/quickstart/base")
fmt = tr.chat_format("think-tags", answer_separator="\n")
student = tr.trainer(
    "full",
    base=str(base),
    format=fmt,
    output_dir="runs/quickstart/student",
    max_steps=60,
    learning_rate=3e-3,
    batch_size=32,
    per_device_batch_size=32,
).train(selection.kept)
print(student.metrics)

# 4-5. Scale thinking at test time and measure: accuracy against thinking tokens.
report = tr.evaluate(
    student,
    tr.benchmark("arithmetic", n=40),
    scaler=tr.scaler("budget-forcing", final_answer_text=None, max_answer_tokens=4),
    budgets=[0, 16, 64],
)
print(report)
report.plot("runs/quickstart/scaling.png")
