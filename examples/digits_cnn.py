"""A small CNN on the embedded digits, written the way the lectures write it.

Run:  python examples/digits_cnn.py
Builds the model with ``svertka.nn``, trains it with ``svertka.optim`` and a ``DataLoader``,
evaluates it, saves a checkpoint and prints a per-layer summary.
"""

import os
import tempfile

import svertka
import svertka.nn as nn
import svertka.nn.functional as F
from svertka.analysis import summary
from svertka.data import DataLoader
from svertka.data.datasets import Digits


def main(epochs=8, seed=0):
    svertka.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(in_channels=1, out_channels=16, kernel_size=(3, 3),
                                    padding=1),
                          nn.ReLU(),
                          nn.MaxPool2d(kernel_size=(2, 2)),
                          nn.Conv2d(16, 32, kernel_size=3, padding=1),
                          nn.ReLU(),
                          nn.MaxPool2d(kernel_size=2),
                          nn.Flatten(),
                          nn.Linear(32 * 2 * 2, 10))
    train_loader = DataLoader(Digits(train=True), batch_size=32, shuffle=True)
    test_loader = DataLoader(Digits(train=False), batch_size=256)
    optimizer = svertka.optim.Adam(model.parameters(), lr=3e-3)

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        model.eval()
        correct = 0
        with svertka.no_grad():
            for x, y in test_loader:
                correct += (model(x).argmax(dim=1) == y).sum().item()
        accuracy = correct / len(test_loader.dataset)
        print(f"epoch {epoch + 1}: train loss {total / len(train_loader.dataset):.4f}, "
              f"test accuracy {accuracy:.4f}")

    path = os.path.join(tempfile.mkdtemp(), "digits_cnn.svk")
    svertka.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    print(f"saved {path}")
    print(summary(model, (1, 8, 8)))
    return accuracy


if __name__ == "__main__":
    main()
