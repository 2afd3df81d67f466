#!/usr/bin/env python3
"""The training speed (steps/s) of the reference implementation, yang-song/score_sde_pytorch, on
the CPU: the figure the README's training rows compare this project's trainer with.

It is not part of the build or the tests: it needs PyTorch (PyPI's `torch` wheel runs on the CPU)
and a checkout of the reference (its commit c8c18d1 was measured), given with --reference; the
reference's code is imported from there, never copied. It builds the model, EMA, optimizer, SDE and
training step as the reference's run_lib.train does, from one of this project's JSON configs
(they carry the reference's sections and key names), and times training steps on random batches
of the right shape [B, C, H, W] in [0, 1], passed through the reference's data scaler (x * 2 - 1
for centered data) inside the timed step. Only the reference's data pipeline (TensorFlow
Datasets) is replaced, which favours the reference; its checkpoints, logging and sampling are
left out, its loss.item() every log_freq steps is kept.

The reference's `op` package compiles a CUDA extension when imported; it is used only on the FIR
resampling paths (model.fir = true), so a stand-in that raises is put in its place and a config
with fir = true is refused.

    python3 -m venv venv && venv/bin/pip install torch numpy
    git clone https://github.com/yang-song/score_sde_pytorch /tmp/score_sde_pytorch
    venv/bin/python tests/bench/reference_training_speed.py --reference /tmp/score_sde_pytorch \
        --config models/bundled/fashion-mnist/config.json --steps 100 --warmup 10 --threads 2
"""

import argparse
import json
import os
import statistics
import sys
import time

import types


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", required=True, help="a checkout of yang-song/score_sde_pytorch")
    p.add_argument("--config", required=True, help="a config JSON of this project (the reference's keys)")
    p.add_argument("--steps", type=int, default=50, help="timed training steps (after warm-up)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up training steps")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op (and inter-op) threads")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: training.batch_size)")
    p.add_argument("--with-eval", action="store_true",
                                  help="also run the reference loop's eval step (EMA swap + loss, no grad) every "
                                            "training.eval_freq steps, as run_lib.train does; off by default")
    p.add_argument("--json", default=None, help="optional path to write the result as JSON")
    return p.parse_args()


class AttrDict(dict):
    """Minimal stand-in for ml_collections.ConfigDict (attribute access, nested)."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e

    def __setattr__(self, k, v):
        self[k] = v


def to_config(obj):
    if isinstance(obj, dict):
        return AttrDict({k: to_config(v) for k, v in obj.items()})
    return obj


def stand_in_for_op():
    """The reference's `op` package (upfirdn2d, fused_act) compiles a CUDA extension at import;
    only FIR resampling calls it, which the configs measured here do not use."""

    def unavailable(*_args, **_kwargs):
        raise NotImplementedError("the reference's op package (CUDA) is not loaded: model.fir must be false")

    op = types.ModuleType("op")
    op.upfirdn2d = op.fused_leaky_relu = op.FusedLeakyReLU = unavailable
    sys.modules["op"] = op


def main():
    args = parse_args()

    # Thread settings must happen before torch does any parallel work.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass

    stand_in_for_op()
    sys.path.insert(0, os.path.abspath(args.reference))
    # As run_lib.py imports them (the bundled configs are 'ncsnpp' models).
    from models import ncsnpp  # noqa: F401  (registers 'ncsnpp')
    import losses
    import sde_lib
    from models import utils as mutils
    from models.ema import ExponentialMovingAverage

    with open(args.config) as f:
        raw = json.load(f)
    config = to_config(raw)
    config.device = torch.device("cpu")
    if args.batch is not None:
        config.training.batch_size = args.batch
    if config.model.get("fir", False):
        sys.exit("the config has model.fir = true, which needs the reference's CUDA op package")
    if config.model.name not in mutils._MODELS:
        sys.exit(f"model {config.model.name!r} is not registered (have: {sorted(mutils._MODELS)})")

    if "seed" in config:
        torch.manual_seed(config.seed)

    # ---- as in run_lib.train -------------------------------------------------------------
    score_model = mutils.create_model(config)
    ema = ExponentialMovingAverage(score_model.parameters(), decay=config.model.ema_rate)
    optimizer = losses.get_optimizer(config, score_model.parameters())
    state = dict(optimizer=optimizer, model=score_model, ema=ema, step=0)

    # datasets.get_data_scaler(config)
    if config.data.centered:
        scaler = lambda x: x * 2. - 1.
    else:
        scaler = lambda x: x

    if config.training.sde.lower() == 'vpsde':
        sde = sde_lib.VPSDE(beta_min=config.model.beta_min, beta_max=config.model.beta_max, N=config.model.num_scales)
    elif config.training.sde.lower() == 'subvpsde':
        sde = sde_lib.subVPSDE(beta_min=config.model.beta_min, beta_max=config.model.beta_max, N=config.model.num_scales)
    elif config.training.sde.lower() == 'vesde':
        sde = sde_lib.VESDE(sigma_min=config.model.sigma_min, sigma_max=config.model.sigma_max, N=config.model.num_scales)
    else:
        raise NotImplementedError(f"SDE {config.training.sde} unknown.")

    optimize_fn = losses.optimization_manager(config)
    continuous = config.training.continuous
    reduce_mean = config.training.reduce_mean
    likelihood_weighting = config.training.likelihood_weighting
    train_step_fn = losses.get_step_fn(sde, train=True, optimize_fn=optimize_fn,
                                                                          reduce_mean=reduce_mean, continuous=continuous,
                                                                          likelihood_weighting=likelihood_weighting)
    eval_step_fn = losses.get_step_fn(sde, train=False, optimize_fn=optimize_fn,
                                                                        reduce_mean=reduce_mean, continuous=continuous,
                                                                        likelihood_weighting=likelihood_weighting)
    # ---------------------------------------------------------------------------------------

    n_params = sum(p.numel() for p in score_model.parameters())
    n_trainable = sum(p.numel() for p in score_model.parameters() if p.requires_grad)

    B = config.training.batch_size
    C = config.data.num_channels
    H = W = config.data.image_size
    # A small pool of random "images" in [0, 1] (what the reference's tfds pipeline yields),
    # generated before timing; the scaler is applied inside the timed step as in run_lib.
    gen = torch.Generator().manual_seed(1234)
    pool = [torch.rand(B, C, H, W, generator=gen) for _ in range(4)]

    print(f"reference: yang-song/score_sde_pytorch at {os.path.abspath(args.reference)}")
    print(f"config: {args.config}")
    print(f"model: {config.model.name}  sde: {config.training.sde}  continuous: {continuous}  "
                f"reduce_mean: {reduce_mean}  likelihood_weighting: {likelihood_weighting}")
    print(f"torch: {torch.__version__}  threads: {torch.get_num_threads()} "
                f"(interop {torch.get_num_interop_threads()})")
    print(f"batch: {B}  input shape: [{B}, {C}, {H}, {W}]")
    print(f"parameters: {n_params} (trainable {n_trainable})")
    sys.stdout.flush()

    eval_freq = config.training.get("eval_freq", 0) if args.with_eval else 0
    log_freq = config.training.get("log_freq", 0)

    def one_step(i):
        batch = scaler(pool[i % len(pool)])
        loss = train_step_fn(state, batch)
        step = state['step'] - 1
        if log_freq and step % log_freq == 0:
            loss.item()  # run_lib logs loss.item() every log_freq steps
        if eval_freq and step % eval_freq == 0:
            eval_step_fn(state, scaler(pool[(i + 1) % len(pool)])).item()
        return loss

    for i in range(args.warmup):
        t0 = time.perf_counter()
        loss = one_step(i)
        print(f"warmup step {i + 1}/{args.warmup}: loss {loss.item():.5f}  {time.perf_counter() - t0:.3f} s")
        sys.stdout.flush()

    times = []
    t_start = time.perf_counter()
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = one_step(args.warmup + i)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_start
    last_loss = loss.item() if args.steps else float("nan")

    sps = args.steps / total if args.steps else float("nan")
    med = statistics.median(times) if times else float("nan")
    print(f"timed steps: {args.steps} (warm-up {args.warmup} excluded)  total {total:.3f} s  "
                f"last loss {last_loss:.5f}")
    print(f"steps/s: {sps:.4f}   (median step {med * 1000:.1f} ms, "
                f"min {min(times) * 1000 if times else float('nan'):.1f} ms, "
                f"max {max(times) * 1000 if times else float('nan'):.1f} ms)")
    result = dict(reference="yang-song/score_sde_pytorch", config=os.path.abspath(args.config),
                                torch=torch.__version__, threads=torch.get_num_threads(), batch=B,
                                shape=[B, C, H, W], parameters=n_params, warmup=args.warmup, steps=args.steps,
                                total_s=total, steps_per_s=sps, median_step_s=med, with_eval=bool(eval_freq),
                                step_times_s=times)
    print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "step_times_s"}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
