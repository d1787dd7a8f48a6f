"""Repository-wide pytest settings.

* Notebooks run at their CI size unless ``RELATIONNET_SIZE`` says otherwise: the README's test
  command must pass on a fresh clone whether or not ``relationnet demo`` ran before it, and a
  full-size notebook trains for many minutes (``RELATIONNET_SIZE=full pytest`` opts in).
* At CI size no notebook cell needs more than a minute, so a cell that has not finished after
  ``CI_CELL_TIMEOUT`` seconds fails with nbclient's "cell timed out" error instead of waiting out
  the 900 s that full size allows.
"""
import os

os.environ.setdefault("RELATIONNET_SIZE", "ci")
CI_CELL_TIMEOUT = 300


def pytest_configure(config):
    if os.environ["RELATIONNET_SIZE"] == "ci" and getattr(config.option, "nbmake_timeout", None) == 900:
        config.option.nbmake_timeout = CI_CELL_TIMEOUT
