"""Save and load a frame through flowdeck's blob store on S3, against bare pyarrow + boto3.

    python benchmarks/s3.py [--rows 2000000] [--repeat 5]

Starts a moto S3 server on loopback, then in the same run measures:

- flowdeck save: ``Codecs.encode`` + ``BlobStore.put`` (hashing, existence check, upload);
- flowdeck load: ``BlobStore.get`` (download, checksum) + ``Codecs.decode``, read cache off;
- baseline save: Arrow IPC of the frame with pyarrow + one boto3 ``put_object``;
- baseline load: one boto3 ``get_object`` + pyarrow IPC read + ``to_pandas``.

It prints the best time of each and the ratios flowdeck / baseline (target <= 1.3x), plus the bare
transfer of the same Arrow bytes (``put_object``/``get_object`` only) for reference.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
from moto.server import ThreadedMotoServer

from flowdeck.storage.blobs import BlobStore
from flowdeck.storage.codecs import Codecs

TARGET = 1.3


def make_frame(rows: int) -> pd.DataFrame:
    """A frame like a step output: ids, measures, a timestamp and a low-cardinality label."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "amount": rng.normal(100, 25, rows),
            "ratio": rng.random(rows),
            "count": rng.integers(0, 1000, rows, dtype=np.int32),
            "when": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**6, rows), "s"),
            "label": pd.Categorical(rng.choice(["north", "south", "east", "west"], rows)),
        }
    )


def arrow_bytes(frame: pd.DataFrame) -> pa.Buffer:
    """The frame as one Arrow IPC stream, written with plain pyarrow."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def timed(fn: Callable[[], Any], before: Callable[[], None] | None = None) -> float:
    """Wall time of one run of ``fn`` (``before`` runs untimed ahead of it)."""
    if before is not None:
        before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; exit status 1 when a ratio misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        bucket = f"flowdeck-bench-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        frame = make_frame(args.rows)
        codecs = Codecs([b"benchmark-signing-key"])
        with tempfile.TemporaryDirectory() as cache_dir:
            store = BlobStore.from_url(f"s3://{bucket}/blobs", s3_endpoint_url=endpoint)
            cached_store = BlobStore.from_url(f"s3://{bucket}/blobs", s3_endpoint_url=endpoint, cache_dir=cache_dir)
            encoded = codecs.encode(frame)
            ref = store.put(encoded.parts)
            size_mb = ref.size / 1024**2

            def fd_save() -> None:
                store.put(codecs.encode(frame).parts)

            def fd_load() -> pd.DataFrame:
                return codecs.decode(encoded.codec, store.get(ref.key, ref.checksum))

            def drop_blob() -> None:
                store.delete(ref.key)

            def fd_load_cached() -> pd.DataFrame:
                return codecs.decode(encoded.codec, cached_store.get(ref.key, ref.checksum))

            def base_save() -> None:
                client.put_object(Bucket=bucket, Key="baseline.arrow", Body=arrow_bytes(frame).to_pybytes())

            def base_load() -> pd.DataFrame:
                body = client.get_object(Bucket=bucket, Key="baseline.arrow")["Body"].read()
                return pa.ipc.open_stream(body).read_all().to_pandas()

            raw = encoded.to_bytes()

            def raw_put() -> None:
                client.put_object(Bucket=bucket, Key="raw.arrow", Body=raw)

            def raw_get() -> bytes:
                return client.get_object(Bucket=bucket, Key="raw.arrow")["Body"].read()

            # Warm up connections and code paths once, untimed.
            base_save()
            base_load()
            fd_load()
            raw_put()
            fd_load_cached()
            pd.testing.assert_frame_equal(fd_load(), frame)

            # Interleaved, so that a busy machine slows both sides alike; the best run of each counts.
            timings: dict[str, list[float]] = {}
            for _ in range(args.repeat):
                for name, fn, before in [
                    ("base_save", base_save, None),
                    ("fd_save", fd_save, drop_blob),
                    ("base_load", base_load, None),
                    ("fd_load", fd_load, None),
                    ("raw_put", raw_put, None),
                    ("raw_get", raw_get, None),
                    ("fd_again", fd_save, None),
                    ("fd_cached", fd_load_cached, None),
                ]:
                    timings.setdefault(name, []).append(timed(fn, before))
            t = {name: min(values) for name, values in timings.items()}
    finally:
        server.stop()

    save_ratio = t["fd_save"] / t["base_save"]
    load_ratio = t["fd_load"] / t["base_load"]
    print(f"S3 benchmark: {args.rows:,} rows, {size_mb:.1f} MiB encoded, moto server on {host} (best of {args.repeat})")
    print(f"  save  flowdeck {t['fd_save']:7.3f} s   pyarrow+boto3 {t['base_save']:7.3f} s   ratio {save_ratio:5.2f}x")
    print(f"  load  flowdeck {t['fd_load']:7.3f} s   pyarrow+boto3 {t['base_load']:7.3f} s   ratio {load_ratio:5.2f}x")
    print(
        f"  bare transfer of the same Arrow bytes: put_object {t['raw_put']:.3f} s "
        f"(flowdeck save {t['fd_save'] / t['raw_put']:.2f}x), get_object {t['raw_get']:.3f} s "
        f"(flowdeck load {t['fd_load'] / t['raw_get']:.2f}x)"
    )
    print(
        f"  flowdeck save of a value already stored {t['fd_again']:.3f} s; "
        f"load from the read cache {t['fd_cached']:.3f} s"
    )
    ok = save_ratio <= TARGET and load_ratio <= TARGET
    print(f"  target <= {TARGET}x: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
