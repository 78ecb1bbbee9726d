"""Deep ensemble of small periodic CNNs on 0/1 microstructure images, with a calibrated std.

The image counterpart of :class:`evodesign.surrogates.ensemble.DeepEnsembleRegressor`
(same scikit-learn API, same ``predict(X, return_std=True)``, same calibration and the same
model-file layout), for images too large, or physics too dear, for hand-made descriptors.

Every member is a few 3x3 convolutions with *circular* padding (the images and the
solver are periodic, so a filler cluster that wraps around the edge is one cluster to
the network too), SiLU, stride-2 downsampling after the first layer, global average
pooling (translation invariance on the torus) and a linear head giving a mean and a
variance per target; members are trained by Gaussian NLL and differ by initialisation
and by their own shuffling (or bootstrap resample) of the training rows. The predictive
variance is the mean of the members' variances plus the variance of their means; one
scale per target is then fitted on the validation split
(:func:`evodesign.surrogates.calibration.std_scale`).

All members live in one module: member m owns rows ``m*c:(m+1)*c`` of every stacked
conv weight, and the forward pass loops over members (on a CPU a grouped convolution
with one input channel per group measured ~20x slower than this loop). Weights are drawn from a local ``torch.Generator`` through the
functional API, so building the network never touches torch's global random state.
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from operators.seeding import as_generator, torch_generator
from sklearn.base import BaseEstimator, RegressorMixin

from evodesign.exceptions import DataError
from evodesign.surrogates.calibration import std_scale
from evodesign.surrogates.ensemble import GaussianEnsembleOutputs, ensemble_moments

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CNNEnsembleRegressor"]

_MIN_VAR = 1e-6


class _GroupedPeriodicCNN(torch.nn.Module):
    """``n_members`` independent periodic CNNs whose weights are stacked member-major.

    Input `(B, M, H, W)` (member m reads channel m), output `(M, B, 2 n_out)`: per target
    a mean and an unconstrained variance parameter.
    """

    def __init__(
        self,
        n_members: int,
        channels: tuple[int, ...],
        n_out: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_members = int(n_members)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        fan_in_ch = 1
        for c in channels:
            # Kaiming-uniform-like bound, as torch's own default init, but from our generator
            bound = 1.0 / math.sqrt(fan_in_ch * 9)
            w = (torch.rand(n_members * c, fan_in_ch, 3, 3, generator=generator) * 2 - 1) * bound
            b = (torch.rand(n_members * c, generator=generator) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))
            fan_in_ch = c
        bound = 1.0 / math.sqrt(fan_in_ch)
        self.w_out = torch.nn.Parameter(
            (torch.rand(n_members, fan_in_ch, 2 * n_out, generator=generator) * 2 - 1) * bound
        )
        self.b_out = torch.nn.Parameter(
            (torch.rand(n_members, 1, 2 * n_out, generator=generator) * 2 - 1) * bound
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, M, H, W)` -> `(M, B, 2 n_out)`."""
        pooled = []
        for m in range(self.n_members):
            h = x[:, m : m + 1]
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                c = len(w) // self.n_members
                h = F.pad(h, (1, 1, 1, 1), mode="circular")
                # full resolution first (thin features such as one-pixel channels survive),
                # then halve: the receptive field grows fast enough for percolation-scale
                # structure
                h = F.silu(F.conv2d(h, w[m * c : (m + 1) * c], b[m * c : (m + 1) * c],
                                    stride=1 if i == 0 else 2))
            pooled.append(h.mean(dim=(2, 3)))  # (B, c)
        return torch.baddbmm(self.b_out, torch.stack(pooled), self.w_out)


class CNNEnsembleRegressor(GaussianEnsembleOutputs, RegressorMixin, BaseEstimator):
    """Deep ensemble of periodic CNNs on square 0/1 images, with calibrated std (sklearn API).

    Args:
        n_members: number of independently initialised and shuffled networks.
        channels: output channels of each 3x3 convolution of a member; every layer but
            the first halves the resolution.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        batch_size: minibatch size per member.
        max_epochs: upper bound on training epochs.
        patience: stop after this many epochs without validation improvement of any
            member; each member keeps the weights of its best epoch.
        validation_fraction: share of the rows held out for early stopping and for the
            calibration of the std.
        bootstrap: each member draws its epoch's rows with replacement (otherwise each
            member sees every training row once per epoch in its own order).
        augment: flip each minibatch at random (left-right, up-down): both leave k_xx
            and k_yy of a periodic image unchanged, so this is free, exact data.
        calibrate: fit a per-target scale of the std on the validation split.
        confidence: the central interval probability that calibration targets.
        random_state: seed or numpy Generator; drives initialisation, split, shuffling and
            flips through a local ``torch.Generator`` (no global seeding).
        warm_start: a second :meth:`fit` continues from the fitted weights (and keeps the
            target scaling they were trained under) instead of starting afresh: the
            update of a closed loop after each measured batch.

    Attributes:
        n_features_in_: pixels per image (``image_size_ ** 2``).
        image_size_: side of the square training images.
        n_targets_: number of targets (1 for a 1-d ``y``).
        std_scale_: `(n_targets,)` calibration factors applied to the raw std.
        n_epochs_: epochs run.
        best_epoch_: `(n_members,)` epoch whose weights each member kept.
        fit_seconds_: wall time of :meth:`fit`.
    """

    def __init__(
        self,
        n_members: int = 5,
        channels: tuple[int, ...] = (8, 16, 32, 32),
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 40,
        patience: int = 8,
        validation_fraction: float = 0.15,
        bootstrap: bool = False,
        augment: bool = True,
        calibrate: bool = True,
        confidence: float = 0.9,
        random_state: int | np.random.Generator | None = None,
        warm_start: bool = False,
    ) -> None:
        self.n_members = n_members
        self.channels = channels
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.bootstrap = bootstrap
        self.augment = augment
        self.calibrate = calibrate
        self.confidence = confidence
        self.random_state = random_state
        self.warm_start = warm_start

    # ------------------------------------------------------------------ input checks
    @staticmethod
    def _images(X: ArrayLike, name: str = "X") -> NDArray[np.float32]:
        """`(n, H*W)` rows of square images or `(n, H, W)` -> `(n, H, W)` float32 of 0/1."""
        X = np.asarray(X)
        if X.ndim == 2:
            side = math.isqrt(X.shape[1])
            if side * side != X.shape[1] or side == 0:
                raise DataError(
                    f"{name} rows must be square images flattened row-major (H*W pixels with "
                    f"H == W), got {X.shape[1]} pixels per row, not a square number"
                )
            X = X.reshape(len(X), side, side)
        elif X.ndim != 3 or X.shape[1] != X.shape[2]:
            raise DataError(
                f"{name} must be (n, H*W) rows of square images or (n, H, W) with H == W, "
                f"got shape {X.shape}"
            )
        bad = ~((X == 0) | (X == 1))
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            value = X.reshape(len(X), -1)[row][bad.reshape(len(X), -1)[row]][0]
            raise DataError(
                f"{name} must hold 0/1 pixels (0 = matrix, 1 = filler); image {row} has {value.item()!r}"
            )
        return X.astype(np.float32)

    def _validate_fit(self, X: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
        channels = tuple(int(c) for c in self.channels)
        if not channels or min(channels) < 1:
            raise DataError(f"channels must be a non-empty tuple of positive ints, got {self.channels!r}")
        images = self._images(X)
        y = np.asarray(y, dtype=np.float64)
        self.y_is_1d_ = y.ndim == 1
        y = y.reshape(len(y), -1)
        if len(images) != len(y):
            raise DataError(f"X has {len(images)} images but y has {len(y)} rows")
        if not np.isfinite(y).all():
            row, col = np.argwhere(~np.isfinite(y))[0]
            raise DataError(f"y has a non-finite value at row {row}, column {col}")
        self.image_size_ = images.shape[1]
        self.n_features_in_ = self.image_size_**2
        self.n_targets_ = y.shape[1]
        return images, y

    # ------------------------------------------------------------------ fitting
    def fit(self, X: ArrayLike, y: ArrayLike) -> CNNEnsembleRegressor:
        """Train the ensemble.

        Args:
            X: `(n, H*W)` row-major square 0/1 images (as ``MicrostructureSpace.features``
                gives) or `(n, H, W)`.
            y: `(n,)` or `(n, n_targets)` finite targets, e.g. ``[k_xx, k_yy]``.

        Returns:
            self.
        """
        start = time.perf_counter()
        images, y = self._validate_fit(X, y)
        rng = as_generator(self.random_state)
        gen = torch_generator(rng)

        n = len(images)
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 2:
            raise DataError(f"need at least {n_val + 2} training images, got {n}")
        perm = rng.permutation(n)
        val, train = perm[:n_val], perm[n_val:]
        M, t, bs = int(self.n_members), y.shape[1], int(self.batch_size)
        warm = self._warm_net(t)
        if warm is None:  # a warm start keeps the scaling its weights were trained under
            self.y_mean_ = y[train].mean(axis=0)
            self.y_scale_ = y[train].std(axis=0)
            self.y_scale_[~(self.y_scale_ > 1e-12)] = 1.0

        xt = torch.as_tensor(images * 2 - 1)  # centred pixels: -1 matrix, +1 filler
        yt = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        net = warm if warm is not None else _GroupedPeriodicCNN(M, tuple(int(c) for c in self.channels), t, gen)
        opt = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        train_t = torch.as_tensor(train)
        x_val, y_val = xt[val], yt[val]

        best = torch.full((M,), float("inf"))
        best_state = copy.deepcopy(net.state_dict())
        self.best_epoch_ = np.zeros(M, dtype=int)
        stale = 0
        epoch = 0
        for epoch in range(1, int(self.max_epochs) + 1):
            net.train()
            if self.bootstrap:
                order = train_t[torch.randint(len(train), (M, len(train)), generator=gen)]
            else:
                order = train_t[torch.argsort(torch.rand(M, len(train), generator=gen), dim=1)]
            for s in range(0, len(train), bs):
                idx = order[:, s : s + bs]  # (M, B): each member its own minibatch
                xb = xt[idx].transpose(0, 1)  # (B, M, H, W): member m reads channel m
                if self.augment:
                    flips = torch.rand(2, generator=gen) < 0.5
                    dims = [d for d, f in zip((2, 3), flips.tolist()) if f]
                    if dims:
                        xb = torch.flip(xb, dims)
                loss = self._nll(net(xb), yt[idx]).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val_loss = self._val_loss(self._forward_batched(net, x_val), y_val)
            improved = val_loss < best - 1e-4
            if bool(improved.any()):
                state = net.state_dict()
                for key, tensor in state.items():
                    self._copy_members(best_state[key], tensor, improved)
                best = torch.where(improved, val_loss, best)
                self.best_epoch_[improved.numpy()] = epoch
                stale = 0
            else:
                stale += 1
            if stale >= int(self.patience):
                break
        net.load_state_dict(best_state)
        net.eval()
        self.net_ = net
        self.n_epochs_ = epoch

        self.std_scale_ = np.ones(t)
        if self.calibrate:
            self.std_scale_ = std_scale(y[val], *self._predict_raw(images[val]), self.confidence)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _warm_net(self, n_targets: int) -> _GroupedPeriodicCNN | None:
        """A copy of the fitted networks to continue from (``warm_start``), else None
        (global average pooling makes the networks independent of the image size).

        Raises:
            DataError: a warm start with another number of targets.
        """
        if not (self.warm_start and hasattr(self, "net_")):
            return None
        if n_targets != len(self.y_mean_):
            raise DataError(
                f"warm_start: the fitted ensemble predicts {len(self.y_mean_)} targets, the new "
                f"data has {n_targets}; fit without warm_start"
            )
        return copy.deepcopy(self.net_)

    def _copy_members(self, dst: torch.Tensor, src: torch.Tensor, improved: torch.Tensor) -> None:
        """Copy the rows of the improved members: conv tensors are member-major on axis 0
        (``M * c`` rows), head tensors have a member axis 0 (``M`` rows)."""
        M = int(self.n_members)
        view_dst = dst.view(M, -1)
        view_src = src.detach().reshape(M, -1)
        view_dst[improved] = view_src[improved].clone()

    @staticmethod
    def _forward_batched(net: _GroupedPeriodicCNN, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """Every member on the same images `(n, H, W)` -> `(M, n, 2t)`, in chunks."""
        outs = [
            net(x[s : s + batch].unsqueeze(1).expand(-1, net.n_members, -1, -1))
            for s in range(0, len(x), batch)
        ]
        return torch.cat(outs, dim=1)

    @staticmethod
    def _nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gaussian NLL per member, `(M, B, 2t)` x `(M, B, t)` -> `(M,)`."""
        t = y.shape[-1]
        mean = out[..., :t]
        var = F.softplus(out[..., t:]) + _MIN_VAR
        return (0.5 * (torch.log(var) + (y - mean) ** 2 / var)).mean(dim=(1, 2))

    @staticmethod
    def _val_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Early stopping on the mean's squared error per member, `(M,)`: the std's scale is
        fixed afterwards by calibration, so an over-confident variance does not stop the
        mean's training early (as in :class:`DeepEnsembleRegressor`)."""
        return ((y - out[..., : y.shape[-1]]) ** 2).mean(dim=(1, 2))

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X: ArrayLike) -> NDArray[np.float32]:
        if not hasattr(self, "net_"):
            raise DataError("this CNNEnsembleRegressor is not fitted yet; call fit(X, y) first")
        images = self._images(X)
        if images.shape[1] != self.image_size_:
            raise DataError(
                f"X must hold {self.image_size_}x{self.image_size_} images like the training "
                f"data, got {images.shape[1]}x{images.shape[2]}"
            )
        return images

    def _predict_raw(self, images: NDArray[np.float32]) -> tuple[NDArray, NDArray]:
        """Uncalibrated ensemble mean and std in target units, each `(n, n_targets)`."""
        t = self.n_targets_
        with torch.inference_mode():
            mean, total = ensemble_moments(self._forward_batched(self.net_, torch.as_tensor(images * 2 - 1)), t)
        return self._in_target_units(mean, total)

    # ------------------------------------------------------------------ persistence
    def _fitted_info(self) -> dict[str, Any]:
        return {
            "image_size": int(self.image_size_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_is_1d_),
            "n_epochs": int(self.n_epochs_),
            "best_epoch": [int(e) for e in self.best_epoch_],
        }

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], info: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> CNNEnsembleRegressor:
        params = dict(params)
        params["channels"] = tuple(params["channels"])  # JSON gives a list
        model = cls(**params)
        model.image_size_ = int(info["image_size"])
        model.n_features_in_ = model.image_size_**2
        model.n_targets_ = int(info["n_targets"])
        model.y_is_1d_ = bool(info["y_1d"])
        model.n_epochs_ = int(info["n_epochs"])
        model.best_epoch_ = np.asarray(info["best_epoch"])
        net = _GroupedPeriodicCNN(model.n_members, model.channels, model.n_targets_)
        return model._restored(net, tensors)
