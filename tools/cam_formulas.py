"""The attribution formulas of docs/METHODS.md in PyTorch, shared by the oracles.

tools/make_fixtures.py (small fixture networks) and tools/export_torchvision.py (the torchvision
zoo) both compute their expected maps with these functions, so the two oracles cannot drift
apart. Plain autograd-free tensor math: A and g are one image's activation and gradient at the
layer, [K, h, w], in any float dtype (the oracles use float64).
"""

import torch
import torch.nn.functional as F


def normalise(m):
    """(m - min) / (max - min); a constant map becomes zeros, never NaN (0/0)."""
    lo, hi = m.min(), m.max()
    if hi - lo == 0:
        return torch.zeros_like(m)
    return (m - lo) / (hi - lo)


def combine(weights, A, relu):
    """sum_k w_k A_k, with the ReLU when the method applies one."""
    m = (weights[:, None, None] * A).sum(0)
    return F.relu(m) if relu else m


def gradcam_weights(g):
    """Grad-CAM: alpha_k = (1/Z) sum_ij g_kij."""
    return g.mean(dim=(1, 2))


def gradcampp_weights(A, g):
    """Grad-CAM++: w_k = sum_ij a_kij ReLU(g_kij), a = g^2 / (2 g^2 + (sum_ab A_kab) g^3),
    a = 0 where the denominator is 0 (no renormalisation of a, no exp factor: it cancels)."""
    s = A.sum(dim=(1, 2), keepdim=True)  # sum_ab A_kab, per channel
    num = g ** 2
    den = 2 * g ** 2 + s * g ** 3
    a = torch.where(den != 0, num / torch.where(den != 0, den, torch.ones_like(den)), torch.zeros_like(den))
    return (a * F.relu(g)).sum(dim=(1, 2))


def eigen_projection(X):
    """Eigen-CAM's map before the ReLU, of X [K, h, w] (A for Eigen-CAM, g * A for Eigen-Grad-CAM):
    X as a [h*w, K] matrix centred over the positions, projected onto its first right singular
    vector (torch.linalg.svd), the sign chosen so that the largest |value| is positive (kept on a
    tie). pytorch-grad-cam's get_2d_projection centres and projects the same way but keeps the
    sign the SVD returns."""
    K, h, w = X.shape
    M = X.reshape(K, h * w).T
    M = M - M.mean(dim=0, keepdim=True)
    _, _, Vh = torch.linalg.svd(M, full_matrices=False)
    p = M @ Vh[0]
    if -p.min() > p.max():
        p = -p
    return p.reshape(h, w)
