"""A Dask cluster as one more place to run vid2trail's tasks (``pip install 'vid2trail[dask]'``).

:func:`connect` reaches a scheduler (``--scheduler tcp://HOST:8786``, or the
``DASK_SCHEDULER_ADDRESS`` environment variable) with one clear error when it cannot;
:func:`check_readable` asks every worker whether it can open an input, since workers read inputs
by path from a filesystem they all mount. Dask itself ships the arrays, retries the work of a
worker that dies, and runs the same code on a laptop's ``LocalCluster`` and on a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import MissingDependencyError, SourceError, Vid2TrailError, option

#: How long to wait for a scheduler to answer, in seconds: its port, then Dask's handshake.
CONNECT_TIMEOUT_S = 10
HANDSHAKE_TIMEOUT_S = 5


class ClusterError(Vid2TrailError, OSError):
    """The Dask scheduler cannot be reached, or the cluster lost the work (exit code 1)."""


def require_distributed() -> Any:
    """The ``distributed`` module, or one error naming the extra that installs it.

    Examples
    --------
    >>> require_distributed().__name__
    'distributed'
    """
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            f"{option('scheduler')} runs on a Dask cluster, which needs Dask: "
            "pip install 'vid2trail[dask]'"
        ) from None
    return distributed


def scheduler_address(given: str | None) -> str | None:
    """The scheduler to use: ``given``, else ``DASK_SCHEDULER_ADDRESS``, else None (run here).

    Examples
    --------
    >>> scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    return given or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


@contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, closed afterwards.

    Examples
    --------
    >>> with connect("tcp://127.0.0.1:8786") as client:  # doctest: +SKIP
    ...     print(len(client.scheduler_info()["workers"]))
    """
    distributed = require_distributed()
    try:
        _probe(address)  # a plain socket first: a Client that cannot connect hangs on exit
        # The socket answered: the handshake is quick, or it is not Dask (a failed Client then
        # takes twice this to give up as it is collected).
        client = distributed.Client(address, timeout=HANDSHAKE_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # refused, timed out, or something that is not a Dask scheduler
        _quiet_leftovers()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, (OSError, TimeoutError, ValueError)):
            reason = f"it does not answer as a Dask scheduler: {type(exc).__name__}"
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({reason}): start one with "
            "'dask scheduler' and workers with 'dask worker ADDRESS', or check the address"
        ) from None
    try:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        yield client
    except TimeoutError:
        raise ClusterError(
            f"the Dask scheduler at {address} has no workers: start some with "
            f"'dask worker {address}'"
        ) from None
    finally:
        client.close()


def _quiet_leftovers() -> None:
    """A Client that failed to connect still closes itself when collected, and complains on
    stderr: that complaint is not the user's to read (the Error line says what happened)."""
    import sys

    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if type(unraisable.object).__module__.startswith("distributed") or (
            getattr(unraisable.object, "__module__", "") or ""
        ).startswith("distributed"):
            return
        previous(unraisable)

    sys.unraisablehook = hook


def _probe(address: str) -> None:
    """Open and close a TCP connection to a ``tcp://HOST:PORT`` (or ``HOST:PORT``) scheduler;
    other schemes (``tls://``, ``ucx://``) are left to Dask."""
    import socket

    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("the address needs a host and a port, such as tcp://10.0.0.5:8786")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
        pass


def _readable(path: str) -> str:
    """On a worker: '' when ``path`` can be opened there, else why not."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def check_readable(client: Any, path: str) -> None:
    """Refuse before any work when a worker cannot open ``path``: workers read inputs by path.

    Examples
    --------
    >>> with connect("tcp://127.0.0.1:8786") as client:  # doctest: +SKIP
    ...     check_readable(client, "/data/night.mp4")
    """
    answers = client.run(_readable, os.path.abspath(path))
    for worker, reason in sorted(answers.items()):
        if reason:
            raise SourceError(
                f"the Dask worker {worker} cannot read {os.path.abspath(path)} ({reason}): "
                "inputs must be on a filesystem every worker mounts, at the same path"
            )
