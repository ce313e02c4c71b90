"""Fit a small two-layer network to a noisy sine with svertka's autograd and plain SGD.

Run:  python examples/fit_sine.py
Shows the Tensor/autograd foundation end to end: a forward pass built from tensor ops, one
``backward()``, and parameter updates under ``no_grad`` with in-place ``sub_``/``zero_``.
"""

import math

import svertka


def main(steps=2000, hidden=32, lr=0.05, seed=0):
    svertka.manual_seed(seed)
    x = svertka.linspace(-math.pi, math.pi, 256).reshape(-1, 1)
    y = x.sin() + 0.1 * svertka.randn(256, 1)

    w1 = (svertka.randn(1, hidden) * 1.0).requires_grad_()
    b1 = svertka.zeros(hidden, requires_grad=True)
    w2 = (svertka.randn(hidden, 1) / math.sqrt(hidden)).requires_grad_()
    b2 = svertka.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]

    for step in range(steps + 1):
        pred = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with svertka.no_grad():
            for p in params:
                p.sub_(lr * p.grad)
                p.grad.zero_()
        if step % 500 == 0:
            print(f"step {step:5d}  mse {loss.item():.4f}")
    with svertka.no_grad():
        clean = ((x @ w1 + b1).tanh() @ w2 + b2 - x.sin()).abs().max().item()
    print(f"max |fit - sin(x)| = {clean:.3f}")
    return loss.item()


if __name__ == "__main__":
    main()
