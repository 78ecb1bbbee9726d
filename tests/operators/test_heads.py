from __future__ import annotations

import numpy as np
import pytest
import torch

from operators.codecs.simplex_heads import SimplexHead, SparseSimplexHead, make_head


def _rows() -> torch.Tensor:
    x = torch.zeros(3, 6)
    x[0, [0, 2]] = torch.tensor([0.25, 0.75])
    x[1, [1, 3, 5]] = torch.tensor([0.2, 0.3, 0.5])
    x[2, 4] = 1.0
    return x


def _perfect_params(x: torch.Tensor, margin: float = 20.0) -> torch.Tensor:
    """Sparse-head parameters that decode exactly to ``x``."""
    presence = torch.where(x > 0, margin, -margin)
    fraction = torch.log(torch.where(x > 0, x, torch.ones_like(x)))
    return torch.cat([presence, fraction], dim=1)


@pytest.mark.parametrize("fraction_loss", ["aitchison", "kl"])
def test_sparse_head_loss_is_zero_at_the_data_and_decodes_it_exactly(fraction_loss):
    x = _rows()
    head = SparseSimplexHead(6, fraction_loss=fraction_loss)
    params = _perfect_params(x)
    assert head.n_params == 12
    loss = head.loss(params, x)
    assert loss.shape == (3,)
    assert torch.all(loss < 1e-6)
    torch.testing.assert_close(head.decode(params), x)
    # a fraction error costs, and the gradient is finite despite the masked -inf entries
    params = params.clone().requires_grad_(True)
    wrong = params.detach().clone()
    wrong[0, 6] += 0.5
    assert head.loss(wrong, x)[0] > 1e-3
    head.loss(params, x).sum().backward()
    assert torch.isfinite(params.grad).all()


def test_aitchison_counts_relative_errors_of_small_fractions():
    # a 0.01 dopant decoded as 0.02 is a big error in log-ratio terms, a tiny one for KL
    x = torch.tensor([[0.99, 0.01, 0.0]])
    y = torch.tensor([[0.98, 0.02, 0.0]])
    params = torch.cat([torch.tensor([[20.0, 20.0, -20.0]]), torch.log(y.clamp(min=1e-9))], dim=1)
    ait = SparseSimplexHead(3, fraction_loss="aitchison", presence_weight=0).loss(params, x)
    kl = SparseSimplexHead(3, fraction_loss="kl", presence_weight=0).loss(params, x)
    assert ait.item() > 20 * kl.item()


def test_hard_decoding_is_sparse_simplex_and_respects_support_bounds():
    head = SparseSimplexHead(10, min_support=2, max_support=3)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(200, 20, generator=gen) * 3
    params[:50, :10] = -5.0  # nothing above threshold: still >= min_support components
    params[50:100, :10] = 5.0  # everything above threshold: at most max_support
    rows = head.decode(params)
    nnz = (rows > 0).sum(dim=1)
    assert torch.all((nnz >= 2) & (nnz <= 3))
    torch.testing.assert_close(rows.sum(dim=1), torch.ones(200))
    assert torch.all(rows >= 0)
    soft = head.decode(params, hard=False)
    assert torch.all(soft > 0)  # the soft decoding is dense, for inspection only


def test_plain_softmax_head_smears_mass_over_all_components():
    head = SimplexHead(6)
    x = _rows()
    params = torch.log(x.clamp(min=1e-3))
    rows = head.decode(params)
    assert torch.all(rows > 0)  # why the sparse head exists
    assert head.loss(params, x).shape == (3,)


def test_make_head_round_trips_its_config():
    head = SparseSimplexHead(7, fraction_weight=3.0, min_support=2)
    again = make_head(head.config(), 7)
    assert isinstance(again, SparseSimplexHead) and again.config() == head.config()
    assert isinstance(make_head("simplex", 4), SimplexHead)
    with pytest.raises(ValueError, match="unknown head"):
        make_head("dirichlet", 4)
    with pytest.raises(ValueError, match="n_var"):
        make_head(head, 8)
    assert np.isclose(SparseSimplexHead(3).fraction_weight, 10.0)
