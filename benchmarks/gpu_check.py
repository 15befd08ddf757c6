"""On a GPU machine: run the demo and check that its search trained on the GPU and took the cuDNN kernel.

For maintainers, after ``pip install "autofix-lstm[gpu]"`` (see "GPUs" in docs/distributed.md); it installs
nothing itself. It:

1. refuses plainly, exit 3, where TensorFlow sees no GPU (saying whether this TensorFlow is a CUDA
   build at all, and whether the CPU wheel ``tensorflow-cpu`` shadows it);
2. runs the demo as ``make demo`` does (``examples/make_energy.py``, then ``autofix-lstm search`` on
   ``examples/energy.yaml``), into a temporary output folder so the demo's own ``examples/runs`` is
   left alone;
3. checks that summary.json's ``device`` is one of the GPUs TensorFlow sees (the search records the
   device it trains on when it starts);
4. checks the cuDNN kernel: the best configuration is eligible when its recurrent layers keep
   Keras' cuDNN conditions (activation tanh, recurrent_activation sigmoid, recurrent_dropout 0,
   unroll false, use_bias true; summary.json's ``cudnn_compatible``). best_model.keras is traced on
   this GPU as a ``tf.function`` and its graph searched for the ``CudnnRNNV3`` op that Keras'
   TensorFlow backend emits when it takes the cuDNN path (``keras.src.backend.tensorflow.rnn``):
   present when eligible, absent when not. The trials were trained by the same Keras code on the
   same GPU, so the kernel the best model takes here is the one its training took.

    python benchmarks/gpu_check.py [--max-trials N]

Exit 0: all checks passed; 1: a check failed; 3: no GPU here. Writes ``benchmarks/results/gpu_check.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EXAMPLES = ROOT / "examples"
CUDNN_OPS = ("CudnnRNN", "CudnnRNNV2", "CudnnRNNV3")
NO_GPU = 3


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def no_gpu_message(tf) -> str:
    """Why no GPU is visible, and what to do."""
    cuda = tf.test.is_built_with_cuda()
    cpu_wheel = _installed("tensorflow-cpu")
    lines = ["no GPU is visible to TensorFlow (tf.config.list_physical_devices('GPU') is empty): "
             "this check needs a GPU machine; nothing was run."]
    if not cuda:
        lines.append(f"This TensorFlow ({tf.__version__}) is a CPU build"
                     + (f" (tensorflow-cpu {cpu_wheel} is installed)" if cpu_wheel else "")
                     + ': install the CUDA build as docs/distributed.md says under "GPUs" (pip install "autofix-lstm[gpu]", '
                       "then replace tensorflow-cpu).")
    else:
        lines.append("This TensorFlow is a CUDA build: check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES.")
    return "\n".join(lines)


def graph_ops(model) -> set[str]:
    """The op types of ``model``'s forward pass traced as a tf.function here (nested functions included)."""
    import tensorflow as tf

    shape = [None, *model.inputs[0].shape[1:]]
    traced = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    graph = traced.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def has_recurrent_layer(spec) -> bool:
    """True when the spec has an LSTM or GRU (bare or wrapped): a layer with a cuDNN kernel."""
    from autofix_lstm.modeling.build import recurrent_config

    return any((recurrent_config(layer.to_dict()) or {}).get("type") in ("lstm", "gru") for layer in spec.model.layers)


def cudnn_verdict(eligible: bool, recurrent: bool, ops: set[str]) -> tuple[bool, str]:
    """(passed, sentence): the cuDNN kernel must be taken exactly when the configuration allows it."""
    taken = bool(ops & set(CUDNN_OPS))
    if not recurrent:
        return not taken, "the best model has no LSTM/GRU layer: no cuDNN kernel to take"
    if eligible and taken:
        return True, "the best configuration allows cuDNN and its graph runs the CudnnRNNV3 kernel"
    if eligible:
        return False, "the best configuration allows cuDNN but its graph has no CudnnRNN op: the generic kernel ran"
    if taken:
        return False, "the best configuration breaks a cuDNN condition yet a CudnnRNN op ran: our rule is wrong"
    return True, "the best configuration breaks a cuDNN condition (see cudnn_problems) and takes the generic kernel"


def run_demo(work: Path, max_trials: int | None) -> tuple[int, float]:
    """The demo into ``work/out``; (exit code, seconds)."""
    subprocess.run([sys.executable, str(EXAMPLES / "make_energy.py")], check=True, cwd=ROOT)
    spec = yaml.safe_load((EXAMPLES / "energy.yaml").read_text())
    spec["data"]["path"] = str(EXAMPLES / "energy.csv")
    spec["output"] = str(work / "out")
    (work / "energy.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    command = [sys.executable, "-m", "autofix_lstm", "search", str(work / "energy.yaml")]
    if max_trials is not None:
        command += ["--max-trials", str(max_trials)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.returncode, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-trials", type=int, default=None, help="override the demo's search.max_trials")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print(no_gpu_message(tf), file=sys.stderr)
        return NO_GPU

    import keras

    from autofix_lstm.modeling.devices import gpu_names
    from autofix_lstm.run_dir import RunDir
    from autofix_lstm.spec import load_spec

    names = gpu_names()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = Path(tmp)
        code, seconds = run_demo(work, args.max_trials)
        run = RunDir(work / "out")
        checks: list[tuple[str, bool, str]] = []
        if code not in (0, 1) or not run.summary.is_file():
            checks.append(("demo", False, f"the demo's search exited {code} without summary.json"))
            summary = {}
        else:
            summary = json.loads(run.summary.read_text())
            checks.append(("demo", True, f"the search exited {code} in {seconds:.0f}s"))
            device = summary.get("device")
            checks.append(("gpu used", device in names, f"summary.json device {device!r}; visible GPUs {names}"))
            spec = load_spec(run.best_spec)
            model = keras.saving.load_model(run.best_model, compile=False)
            ops = graph_ops(model)
            eligible = bool(summary.get("cudnn_compatible"))
            passed, sentence = cudnn_verdict(eligible, has_recurrent_layer(spec), ops)
            problems = summary.get("cudnn_problems") or []
            checks.append(("cudnn kernel", passed, sentence + (f" ({'; '.join(problems)})" if problems else "")))
    report = {
        "gpus": names, "tensorflow": tf.__version__, "keras": keras.__version__, "demo_exit_code": code,
        "demo_seconds": round(seconds, 1), "device": summary.get("device"), "distribution": summary.get("distribution"),
        "best_trial": summary.get("best_trial"), "cudnn_compatible": summary.get("cudnn_compatible"),
        "checks": [{"check": name, "passed": ok, "detail": detail} for name, ok, detail in checks],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
