"""The same model in torch and in svertka: copy the weights, get the same numbers.

Run:  python examples/torch_interop.py   (needs torch: pip install "svertka[test]")
"""

import numpy as np

import svertka


def build(nn):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


def main():
    try:
        import torch
    except ImportError:
        raise SystemExit("this example needs torch: pip install torch") from None
    t_model = build(torch.nn).double().eval()
    s_model = build(svertka.nn).double().eval()
    # a torch state_dict loads directly: names and shapes are the same
    s_model.load_state_dict(t_model.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    xs = svertka.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = s_model(xs), t_model(xt)
    ys.sum().backward()
    yt.sum().backward()
    out_err = np.abs(ys.detach().numpy() - yt.detach().numpy()).max()
    grad_err = np.abs(xs.grad.numpy() - xt.grad.numpy()).max()
    print(f"max |output difference| = {out_err:.2e}, max |input-gradient difference| = "
          f"{grad_err:.2e}")
    return out_err, grad_err


if __name__ == "__main__":
    main()
