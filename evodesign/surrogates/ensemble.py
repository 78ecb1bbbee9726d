"""Deep ensemble of heteroscedastic MLPs with a calibrated predictive standard deviation.

After Lakshminarayanan et al., "Simple and scalable predictive uncertainty estimation using
deep ensembles" (NeurIPS 2017): every member predicts a location and a variance and is
trained with a negative log-likelihood -- Laplace by default (robust to the heavy tails of
ab initio data; measured better than Gaussian on the transport targets, see
docs/benchmarks.md), Gaussian optionally, both with the beta-weighting of Seitzer et al.
(ICLR 2022) available; the ensemble's predictive variance is the mean of the members'
variances plus the variance of their means.

Raw ensemble variances are rarely calibrated, so after training one scale factor per target
is fitted on the validation split so that the central ``confidence`` interval
(``mean +/- z * std``) holds the stated fraction of validation points. Intervals then mean
what they say on data like the validation data -- not far outside the training data.

All members are trained at once as one batched network (weights stacked along a member
axis, ``torch.baddbmm``), which is several times faster on a CPU than a Python loop over
members, and each member sees its own shuffling of the data.
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from operators.progress import progress_bar
from operators.seeding import as_generator, torch_generator
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin

from evodesign.exceptions import DataError
from evodesign.surrogates.calibration import std_scale

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["DeepEnsembleRegressor", "cosine_learning_rate"]

_MIN_VAR = 1e-6


def _linear(
    n_members: int, fan_in: int, fan_out: int, generator: torch.Generator | None, scale: float = 1.0
) -> tuple[torch.nn.Parameter, torch.nn.Parameter]:
    """Stacked weights `(M, fan_in, fan_out)` and biases `(M, 1, fan_out)`, U(+-scale/sqrt(fan_in))."""
    bound = scale / math.sqrt(fan_in)
    w = (torch.rand(n_members, fan_in, fan_out, generator=generator) * 2 - 1) * bound
    b = (torch.rand(n_members, 1, fan_out, generator=generator) * 2 - 1) * bound
    return torch.nn.Parameter(w), torch.nn.Parameter(b)


class _BatchedMLP(torch.nn.Module):
    """``n_members`` independent MLPs evaluated in one batched matmul per layer.

    Input `(n_members, batch, n_in)`, output `(n_members, batch, 2 * n_out)`: per target,
    a mean and an unconstrained variance parameter.
    """

    def __init__(
        self,
        n_members: int,
        n_in: int,
        hidden: tuple[int, ...],
        n_out: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [n_in, *hidden, 2 * n_out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w, b = _linear(n_members, fan_in, fan_out, generator)
            self.weights.append(w)
            self.biases.append(b)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`(M, B, n_in)` -> `(M, B, 2 n_out)`; ``generator`` is unused (no dropout here)."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.nn.functional.silu(x)
        return x


class _BatchedResidualMLP(torch.nn.Module):
    """``n_members`` independent residual MLPs (pre-LayerNorm blocks), batched like
    :class:`_BatchedMLP`.

    ``x -> Linear(width) -> [x + W2 silu(W1 LN(x))] * n_blocks -> silu(LN(x)) -> Linear``;
    every block has the same width. Dropout masks on the hidden activations are drawn
    from the ``generator`` given to :meth:`forward` (no global random state).
    """

    def __init__(
        self,
        n_members: int,
        n_in: int,
        width: int,
        n_blocks: int,
        n_out: int,
        dropout: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.dropout = float(dropout)

        def linear(fan_in: int, fan_out: int, scale: float = 1.0) -> tuple[torch.nn.Parameter, torch.nn.Parameter]:
            return _linear(n_members, fan_in, fan_out, generator, scale)

        self.w_in, self.b_in = linear(n_in, width)
        self.w1 = torch.nn.ParameterList()
        self.b1 = torch.nn.ParameterList()
        self.w2 = torch.nn.ParameterList()
        self.b2 = torch.nn.ParameterList()
        self.ln_g = torch.nn.ParameterList()
        self.ln_b = torch.nn.ParameterList()
        for _ in range(n_blocks):
            for ws, bs, scale in ((self.w1, self.b1, 1.0), (self.w2, self.b2, 0.5)):
                w, b = linear(width, width, scale)  # the residual branch starts small
                ws.append(w)
                bs.append(b)
            self.ln_g.append(torch.nn.Parameter(torch.ones(n_members, 1, width)))
            self.ln_b.append(torch.nn.Parameter(torch.zeros(n_members, 1, width)))
        self.out_g = torch.nn.Parameter(torch.ones(n_members, 1, width))
        self.out_b = torch.nn.Parameter(torch.zeros(n_members, 1, width))
        self.w_out, self.b_out = linear(width, 2 * n_out)

    @staticmethod
    def _norm(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:]) * g + b

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = torch.baddbmm(self.b_in, x, self.w_in)
        drop = self.training and self.dropout > 0
        for w1, b1, w2, b2, g, bb in zip(self.w1, self.b1, self.w2, self.b2, self.ln_g, self.ln_b):
            h = torch.nn.functional.silu(torch.baddbmm(b1, self._norm(x, g, bb), w1))
            if drop:
                keep = torch.rand(h.shape, generator=generator) >= self.dropout
                h = h * keep / (1.0 - self.dropout)
            x = x + torch.baddbmm(b2, h, w2)
        return torch.baddbmm(self.b_out, torch.nn.functional.silu(self._norm(x, self.out_g, self.out_b)), self.w_out)


def _network(
    architecture: str, n_members: int, n_in: int, hidden: tuple[int, ...], n_out: int, dropout: float,
    generator: torch.Generator | None = None,
) -> torch.nn.Module:
    if architecture == "mlp":
        return _BatchedMLP(n_members, n_in, hidden, n_out, generator)
    return _BatchedResidualMLP(n_members, n_in, hidden[0], len(hidden), n_out, dropout, generator)


def ensemble_moments(out: torch.Tensor, n_targets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and total variance of an ensemble's Gaussian outputs.

    Args:
        out: `(M, n, 2 t)` per-member means then raw variances (softplus + floor).
        n_targets: ``t``.

    Returns:
        `(n, t)` mean over members and `(n, t)` variance: mean of the members' variances +
        variance of their means.
    """
    mu = out[..., :n_targets]
    var = torch.nn.functional.softplus(out[..., n_targets:]) + _MIN_VAR
    return mu.mean(0), var.mean(0) + mu.var(0, unbiased=False)


class GaussianEnsembleOutputs:
    """What the deep ensembles share after their networks: calibrated ``predict``,
    ``interval`` and the tensors a model file holds.

    A subclass provides ``_check_X(X)`` (validated inputs), ``_predict_raw(inputs)``
    (uncalibrated mean and std in target units, each `(n, n_targets)`), the fitted
    ``net_``, ``std_scale_``, ``y_is_1d_``, ``confidence`` and :attr:`STATE_ARRAYS`.
    """

    #: fitted numpy attributes saved next to the network's weights
    STATE_ARRAYS: tuple[str, ...] = ("y_mean_", "y_scale_", "std_scale_")
    #: state arrays that model files written by earlier versions may lack, and the value
    #: each feature gets then (set ``n_features_in_`` before :meth:`_restored`)
    OPTIONAL_STATE: dict[str, float] = {}

    def predict(self, X: ArrayLike, return_std: bool = False) -> NDArray | tuple[NDArray, NDArray]:
        """Predict the mean and, optionally, the calibrated standard deviation.

        Args:
            X: inputs like the training data (`(n, n_features)`; images for the CNN).
            return_std: also return the std (as scikit-learn's GaussianProcessRegressor).

        Returns:
            mean, or (mean, std); each `(n,)` for a 1-d training target, else
            `(n, n_targets)`.
        """
        mean, std = self._predict_raw(self._check_X(X))
        std = std * self.std_scale_
        if self.y_is_1d_:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean

    def interval(self, X: ArrayLike, confidence: float | None = None) -> tuple[NDArray, NDArray]:
        """Central predictive interval, lower and upper bounds of the same shape as the mean."""
        mean, std = self.predict(X, return_std=True)
        z = norm.ppf(0.5 + (confidence or self.confidence) / 2)
        return mean - z * std, mean + z * std

    def _restored(self, net: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> Any:
        """This model with the saved weights loaded into ``net`` (its fitted network, in
        eval mode) and the :attr:`STATE_ARRAYS` from ``tensors`` (a model file's)."""
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        net.eval()
        self.net_ = net
        for name in self.STATE_ARRAYS:
            if name in tensors:
                setattr(self, name, tensors[name].numpy())
            elif name in self.OPTIONAL_STATE:  # a file written before the array existed
                setattr(self, name, np.full(self.n_features_in_, self.OPTIONAL_STATE[name]))
            else:
                raise KeyError(name)
        return self

    def _in_target_units(self, mean: torch.Tensor, variance: torch.Tensor) -> tuple[NDArray, NDArray]:
        """Standardised ensemble moments, each `(n, n_targets)`, as mean and std in target units."""
        return (mean.double().numpy() * self.y_scale_ + self.y_mean_,
                variance.double().sqrt().numpy() * self.y_scale_)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self.net_.state_dict().items()}
        for name in self.STATE_ARRAYS:
            tensors[name] = torch.as_tensor(np.asarray(getattr(self, name), dtype=np.float64))
        return tensors


def cosine_learning_rate(base: float, step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning rate at optimiser ``step`` (0-based): linear warm-up over ``warmup_steps``,
    then cosine decay from ``base`` to 0 at ``total_steps``."""
    if step < warmup_steps:
        return base * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class DeepEnsembleRegressor(GaussianEnsembleOutputs, RegressorMixin, BaseEstimator):
    """Deep ensemble regressor with calibrated uncertainty (scikit-learn API).

    Args:
        n_members: number of independently initialised and shuffled networks.
        hidden_layer_sizes: widths of the hidden layers of each member.
        learning_rate: Adam learning rate.
        weight_decay: AdamW decoupled weight decay.
        batch_size: minibatch size per member.
        max_epochs: upper bound on training epochs.
        patience: stop a member after this many epochs without validation improvement;
            each member keeps the weights of its best epoch.
        validation_fraction: share of the training rows held out for early stopping and
            for the calibration of the standard deviation.
        beta: exponent of the beta-NLL loss (0 = plain NLL, 1 = MSE-like gradients for
            the mean).
        likelihood: ``"laplace"`` (default; its location is the median, so the mean head
            minimises absolute error and is robust to the heavy tails of ab initio
            transport data) or ``"gaussian"``. The std reported is the distribution's
            standard deviation either way.
        calibrate: fit a per-target scale of the std on the validation split.
        confidence: the central interval probability that calibration targets.
        architecture: ``"mlp"`` (default; plain SiLU layers of ``hidden_layer_sizes``)
            or ``"residual"`` (pre-LayerNorm residual blocks, one per entry of
            ``hidden_layer_sizes``, which must all be equal).
        dropout: dropout rate inside the residual blocks (``"residual"`` only).
        lr_schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over
            ``warmup_epochs``, then cosine decay to 0 at ``max_epochs``).
        warmup_epochs: warm-up length of the cosine schedule.
        random_state: seed or numpy Generator; drives initialisation, shuffling, dropout
            and the validation split through a local ``torch.Generator`` (no global
            seeding).
        verbose: show training progress (:func:`operators.progress.progress_bar`): epoch
            e/max_epochs, time left, best validation error and how many members are still
            improving; a bar in a terminal, plain lines every 30 s in a log. It changes no
            number: the weights are the same with and without it.
        warm_start: a second :meth:`fit` continues from the fitted weights (and keeps the
            feature and target scaling they were trained under) instead of starting
            afresh: the update of a closed loop after each measured batch.

    Attributes:
        n_features_in_: number of input features.
        n_targets_: number of targets (1 for a 1-d ``y``).
        std_scale_: `(n_targets,)` calibration factors applied to the raw std.
        x_min_, x_max_: `(n_features,)` range of the training features; inputs are clipped
            to it before prediction (the networks are not trusted to extrapolate).
        n_epochs_: epochs run.
        best_epoch_: `(n_members,)` epoch whose weights each member kept.
        fit_seconds_: wall time of :meth:`fit`.
    """

    STATE_ARRAYS = ("x_mean_", "x_scale_", "x_min_", "x_max_", "y_mean_", "y_scale_", "std_scale_")
    #: files written before the input clipping load unclipped (an unbounded range)
    OPTIONAL_STATE = {"x_min_": -np.inf, "x_max_": np.inf}

    def __init__(
        self,
        n_members: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (256, 256),
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.1,
        beta: float = 0.0,
        likelihood: str = "laplace",
        calibrate: bool = True,
        confidence: float = 0.9,
        architecture: str = "mlp",
        dropout: float = 0.0,
        lr_schedule: str = "constant",
        warmup_epochs: int = 0,
        random_state: int | np.random.Generator | None = None,
        verbose: bool = False,
        warm_start: bool = False,
    ) -> None:
        self.n_members = n_members
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.beta = beta
        self.likelihood = likelihood
        self.calibrate = calibrate
        self.confidence = confidence
        self.architecture = architecture
        self.dropout = dropout
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    def fit(self, X: ArrayLike, y: ArrayLike) -> DeepEnsembleRegressor:
        """Train the ensemble.

        Args:
            X: a `(n_samples, n_features)` array of finite features.
            y: a `(n_samples,)` or `(n_samples, n_targets)` array; NaN entries are masked
                out of the loss (a row may miss some targets).

        Returns:
            self.
        """
        start = time.perf_counter()
        X, y = self._validate_fit(X, y)
        rng = as_generator(self.random_state)
        gen = torch_generator(rng)

        n = X.shape[0]
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 2:
            raise DataError(f"need at least {n_val + 2} training rows, got {n}")
        perm = rng.permutation(n)
        val, train = perm[:n_val], perm[n_val:]

        M = int(self.n_members)
        warm = self._warm_net(X.shape[1], y.shape[1])
        lo, hi = X[train].min(axis=0), X[train].max(axis=0)
        if warm is not None and hasattr(self, "x_min_"):  # the range grows with the new rows
            lo, hi = np.minimum(lo, self.x_min_), np.maximum(hi, self.x_max_)
        self.x_min_, self.x_max_ = lo, hi
        if warm is None:  # a warm start keeps the scaling its weights were trained under
            self.x_mean_ = X[train].mean(axis=0)
            self.x_scale_ = X[train].std(axis=0)
            self.x_scale_[self.x_scale_ < 1e-12] = 1.0
            self.y_mean_ = np.nanmean(y[train], axis=0)
            self.y_scale_ = np.nanstd(y[train], axis=0)
            self.y_scale_[~(self.y_scale_ > 1e-12)] = 1.0

        Xt = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        Yt = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        net = warm if warm is not None else _network(
            self.architecture, M, X.shape[1], tuple(self.hidden_layer_sizes), y.shape[1], float(self.dropout), gen
        )
        opt = torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        steps_per_epoch = math.ceil(len(train) / int(self.batch_size))
        total_steps = int(self.max_epochs) * steps_per_epoch
        warmup_steps = int(self.warmup_epochs) * steps_per_epoch
        step = 0
        train_t = torch.as_tensor(train)
        x_val, y_val = Xt[val].expand(M, -1, -1), Yt[val].expand(M, -1, -1)

        best = torch.full((M,), float("inf"))
        best_state = copy.deepcopy(net.state_dict())
        self.best_epoch_ = np.zeros(M, dtype=int)
        stale = torch.zeros(M, dtype=torch.long)
        bs = int(self.batch_size)
        epoch = 0
        stage = f"surrogate ({M} network{'s' if M > 1 else ''} trained together)"
        with progress_bar(int(self.max_epochs), stage, bool(self.verbose), unit="epoch",
                          early_stop=True) as bar:
            for epoch in range(1, int(self.max_epochs) + 1):
                net.train()
                order = train_t[torch.argsort(torch.rand(M, len(train), generator=gen), dim=1)]
                for s in range(0, len(train), bs):
                    idx = order[:, s : s + bs]  # (M, B): each member its own minibatch
                    if self.lr_schedule == "cosine":
                        for group in opt.param_groups:
                            group["lr"] = self._cosine_lr(step, warmup_steps, total_steps)
                    step += 1
                    loss = self._loss(net(Xt[idx], gen), Yt[idx], self.beta, self.likelihood).sum()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                net.eval()
                with torch.no_grad():
                    val_loss = self._val_loss(net(x_val), y_val)  # (M,)
                improved = val_loss < best - 1e-4
                if bool(improved.any()):
                    state = net.state_dict()
                    for key, tensor in state.items():
                        best_state[key][improved] = tensor[improved].detach().clone()
                    best = torch.where(improved, val_loss, best)
                    self.best_epoch_[improved.numpy()] = epoch
                stale = torch.where(improved, torch.zeros_like(stale), stale + 1)
                if self.verbose:
                    bar.update(1, self._progress_status(best, stale))
                if bool((stale >= self.patience).all()):
                    break
        net.load_state_dict(best_state)
        net.eval()
        self.net_ = net
        self.n_epochs_ = epoch

        self.std_scale_ = np.ones(y.shape[1])
        if self.calibrate:
            self.std_scale_ = std_scale(y[val], *self._predict_raw(X[val]), self.confidence)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _warm_net(self, n_features: int, n_targets: int) -> torch.nn.Module | None:
        """A copy of the fitted networks to continue from (``warm_start``), else None.

        Raises:
            DataError: a warm start on data of another shape than the fitted model's.
        """
        if not (self.warm_start and hasattr(self, "net_")):
            return None
        if (n_features, n_targets) != (len(self.x_mean_), len(self.y_mean_)):
            raise DataError(
                f"warm_start: the fitted ensemble reads {len(self.x_mean_)} features and predicts "
                f"{len(self.y_mean_)} targets, the new data has {n_features} and {n_targets}; "
                "fit without warm_start"
            )
        return copy.deepcopy(self.net_)

    def _progress_status(self, best: torch.Tensor, stale: torch.Tensor) -> str:
        """What the progress display shows after an epoch (reads numbers, changes nothing)."""
        improving = int((stale < int(self.patience)).sum())
        return (
            f"best val error {float(best.mean()):.4f} (standardized, mean of members); "
            f"{improving}/{len(stale)} members still improving"
        )

    def _cosine_lr(self, step: int, warmup_steps: int, total_steps: int) -> float:
        """Learning rate at ``step``: linear warm-up, then cosine decay to 0."""
        return cosine_learning_rate(self.learning_rate, step, warmup_steps, total_steps)

    @staticmethod
    def _loss(out: torch.Tensor, y: torch.Tensor, beta: float, likelihood: str) -> torch.Tensor:
        """Masked (beta-)NLL per member, `(M, B, 2t)` x `(M, B, t)` -> `(M,)`.

        For the Laplace likelihood the second head is the variance 2 b^2, so the
        predictive variance is combined the same way for both likelihoods.
        """
        t = y.shape[-1]
        mean = out[..., :t]
        var = torch.nn.functional.softplus(out[..., t:]) + _MIN_VAR
        mask = torch.isfinite(y)
        err = torch.where(mask, y, mean.detach()) - mean
        if likelihood == "laplace":
            b = torch.sqrt(var / 2)
            nll = torch.log(2 * b) + err.abs() / b
        else:
            nll = 0.5 * (torch.log(var) + err**2 / var)
        if beta > 0:
            nll = nll * var.detach() ** beta
        nll = torch.where(mask, nll, torch.zeros_like(nll))
        return nll.sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1)

    def _val_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Early-stopping criterion per member, `(M,)`: error of the mean (squared or absolute).

        The mean's accuracy decides when to stop; the std's scale is fixed afterwards by
        calibration, so the NLL's tendency to reward over-confident variances late in
        training does not cut the mean's training short.
        """
        mean = out[..., : y.shape[-1]]
        mask = torch.isfinite(y)
        err = torch.where(mask, y - mean, torch.zeros_like(mean))
        err = err.abs() if self.likelihood == "laplace" else err**2
        return err.sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1)

    def _validate_fit(self, X: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
        if self.likelihood not in ("laplace", "gaussian"):
            raise DataError(
                f"likelihood must be 'laplace' or 'gaussian', got {self.likelihood!r}"
            )
        if self.architecture not in ("mlp", "residual"):
            raise DataError(f"architecture must be 'mlp' or 'residual', got {self.architecture!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise DataError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise DataError(f"dropout must be in [0, 1), got {self.dropout}")
        hidden = tuple(self.hidden_layer_sizes)
        if self.architecture == "residual" and (not hidden or len(set(hidden)) != 1):
            raise DataError(
                f"a residual network needs hidden_layer_sizes of one repeated width (e.g. (256, 256, 256)), got {hidden}"
            )
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}")
        self.y_is_1d_ = y.ndim == 1
        y = y.reshape(len(y), -1)
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        if not np.isfinite(X).all():
            row, col = np.argwhere(~np.isfinite(X))[0]
            raise DataError(f"X has a non-finite value at row {row}, column {col}")
        y[~np.isfinite(y)] = np.nan
        empty = np.isnan(y).all(axis=0)
        if empty.any():
            raise DataError(f"target column(s) {np.flatnonzero(empty).tolist()} have no finite value")
        self.n_features_in_ = X.shape[1]
        self.n_targets_ = y.shape[1]
        return X, y

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X: ArrayLike) -> NDArray:
        if not hasattr(self, "net_"):
            raise DataError("this DeepEnsembleRegressor is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X must have shape (n, {self.n_features_in_}) like the training data, "
                f"got {X.shape}"
            )
        return X

    def _predict_raw(self, X: NDArray, batch: int = 16384) -> tuple[NDArray, NDArray]:
        """Uncalibrated ensemble mean and std in target units, each `(n, n_targets)`."""
        t = self.n_targets_
        means, variances = [], []
        # features outside the training range are clipped to it: a feature (almost)
        # constant in training has a tiny scale, and one unusual composition (e.g. the
        # minimum magnetic moment of an all-magnetic alloy in a data set of oxides) then
        # standardises to ~1e4 and the networks extrapolate linearly to absurd values
        X = np.clip(X, self.x_min_, self.x_max_)
        xs = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)
        with torch.inference_mode():
            for s in range(0, len(xs), batch):
                mean, var = ensemble_moments(self.net_(xs[s : s + batch].expand(self.n_members, -1, -1)), t)
                means.append(mean)
                variances.append(var)
        return self._in_target_units(torch.cat(means), torch.cat(variances))

    # ------------------------------------------------------------------ persistence
    def _fitted_info(self) -> dict[str, Any]:
        return {
            "n_features_in": int(self.n_features_in_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_is_1d_),
            "n_epochs": int(self.n_epochs_),
            "best_epoch": [int(e) for e in self.best_epoch_],
        }

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], info: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> DeepEnsembleRegressor:
        model = cls(**params)
        model.n_features_in_ = info["n_features_in"]
        model.n_targets_ = info["n_targets"]
        model.y_is_1d_ = info["y_1d"]
        model.n_epochs_ = info["n_epochs"]
        model.best_epoch_ = np.asarray(info["best_epoch"])
        net = _network(
            model.architecture, model.n_members, model.n_features_in_, tuple(model.hidden_layer_sizes),
            model.n_targets_, float(model.dropout),
        )
        return model._restored(net, tensors)
